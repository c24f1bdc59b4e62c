// Video files through FFmpeg's libraries (libavformat demuxes, libavcodec decodes, libswscale converts to
// RGB). Opening a file demuxes every packet of its video stream once, without decoding, to index the
// frames: their presentation timestamps (frame i is the i-th in presentation order) and which are key
// frames. Reading frames then seeks to the key frame at or before each wanted frame and decodes forward
// from there — only as far as the frames sampling picked, never the whole video.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

#include "engine/error.h"
#include "loader/video_file.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

namespace frost::loader {
namespace {

[[noreturn]] void bad(const std::string& name, const std::string& what) {
  throw_error(ErrorCategory::BadFile, name + ": " + what);
}

// FFmpeg's out-of-memory is the machine's, not the file's: it must not read as a bad input (and be skipped).
[[noreturn]] void bad_av(const std::string& name, const std::string& what, int code);

std::string av_error(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, buf, sizeof buf);
  return buf;
}

void bad_av(const std::string& name, const std::string& what, int code) {
  if (code == AVERROR(ENOMEM)) throw std::bad_alloc();
  bad(name, what + ": " + av_error(code));
}

struct CloseFormat {
  void operator()(AVFormatContext* p) const { avformat_close_input(&p); }
};
struct FreeCodec {
  void operator()(AVCodecContext* p) const { avcodec_free_context(&p); }
};
struct FreePacket {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct FreeFrame {
  void operator()(AVFrame* p) const { av_frame_free(&p); }
};
struct FreeSws {
  void operator()(SwsContext* p) const { sws_freeContext(p); }
};

// FFmpeg logs what it thinks of damaged input to stderr; frost reports it per file instead. A program
// silences FFmpeg's log through quiet_ffmpeg_log() unless it chose a level itself or FROST_FFMPEG_LOG names
// one (quiet, fatal, error, warning, info, verbose, debug) to see FFmpeg's own diagnostics.
void set_ffmpeg_log_level() {
  static std::once_flag once;
  std::call_once(once, [] {
    static const std::pair<const char*, int> levels[] = {{"quiet", AV_LOG_QUIET}, {"fatal", AV_LOG_FATAL},
                                                         {"error", AV_LOG_ERROR}, {"warning", AV_LOG_WARNING},
                                                         {"info", AV_LOG_INFO},   {"verbose", AV_LOG_VERBOSE},
                                                         {"debug", AV_LOG_DEBUG}};
    if (const char* want = std::getenv("FROST_FFMPEG_LOG")) {
      for (const auto& [name, level] : levels)
        if (std::strcmp(want, name) == 0) av_log_set_level(level);
      return;
    }
    if (av_log_get_level() == AV_LOG_INFO) av_log_set_level(AV_LOG_FATAL);
  });
}

// The full-range ("J") pixel formats are deprecated aliases; swscale wants the plain format plus a range.
AVPixelFormat plain_format(AVPixelFormat f, bool& full_range) {
  switch (f) {
    case AV_PIX_FMT_YUVJ420P:
      full_range = true;
      return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P:
      full_range = true;
      return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P:
      full_range = true;
      return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P:
      full_range = true;
      return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P:
      full_range = true;
      return AV_PIX_FMT_YUV411P;
    default:
      return f;
  }
}

class VideoFile final : public FrameSource {
 public:
  VideoFile(const std::string& path, const VideoLimits& limits) : name_(path), limits_(limits) {
    AVFormatContext* fmt = nullptr;
    int r = avformat_open_input(&fmt, path.c_str(), nullptr, nullptr);
    if (r < 0) bad_av(name_, "cannot open as a video", r);
    fmt_.reset(fmt);
    r = avformat_find_stream_info(fmt_.get(), nullptr);
    if (r < 0) bad_av(name_, "cannot read the stream information", r);
    const AVCodec* codec = nullptr;
    stream_ = av_find_best_stream(fmt_.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (stream_ == AVERROR_STREAM_NOT_FOUND) bad(name_, "holds no video stream");
    if (stream_ < 0 || codec == nullptr)
      bad(name_,
          "no decoder for its video stream: " + av_error(stream_ < 0 ? stream_ : AVERROR_DECODER_NOT_FOUND));
    for (unsigned i = 0; i < fmt_->nb_streams; ++i)
      if (int(i) != stream_) fmt_->streams[i]->discard = AVDISCARD_ALL;  // demux the video stream only
    const AVCodecParameters* par = fmt_->streams[stream_]->codecpar;
    width_ = par->width;
    height_ = par->height;
    if (width_ <= 0 || height_ <= 0 || int64_t(width_) * height_ > limits.max_pixels)
      bad(name_, "video frames of " + std::to_string(width_) + "x" + std::to_string(height_) +
                     " pixels are empty or exceed the budget of " + std::to_string(limits.max_pixels));

    dec_.reset(avcodec_alloc_context3(codec));
    packet_.reset(av_packet_alloc());
    frame_.reset(av_frame_alloc());
    FROST_CHECK(dec_ && packet_ && frame_, Internal,
                name_ << ": FFmpeg could not allocate its decoder state");
    r = avcodec_parameters_to_context(dec_.get(), par);
    if (r < 0) bad_av(name_, "bad codec parameters", r);
    // One decoding thread: damaged data then decodes the same everywhere, as `ffmpeg -threads 1` decodes
    // it. Frame threading (FFmpeg's default) switched the decoder's error concealment and per-frame damage
    // flags on and off at random (a damaged H.264 MP4 was flagged in 2 of 5 runs), and slice threading
    // changes concealment with the machine's core count. Clean data decodes to the same bytes either way;
    // the batch commands and the data pipeline decode several videos at once, one thread each.
    dec_->thread_count = 1;
    r = avcodec_open2(dec_.get(), codec, nullptr);
    if (r < 0) bad_av(name_, std::string("cannot open the ") + codec->name + " decoder", r);
    // Length-prefixed NAL units: an avcC (H.264) or hvcC (HEVC) record in the extradata says how long the
    // length fields are (Annex B streams, with start codes, have no such record).
    const uint8_t* x = par->extradata;
    if (par->codec_id == AV_CODEC_ID_H264 && par->extradata_size >= 7 && x[0] == 1)
      nal_length_size_ = (x[4] & 3) + 1;
    else if (par->codec_id == AV_CODEC_ID_HEVC && par->extradata_size >= 23 && (x[0] == 1 || x[0] == 0) &&
             !(x[0] == 0 && x[1] == 0 && (x[2] == 1 || x[3] == 1)))
      nal_length_size_ = (x[21] & 3) + 1;

    index_frames();
  }

  const std::string& name() const override { return name_; }
  int64_t frame_count() const override { return int64_t(frame_ts_.size()); }

  HostTensor read(std::span<const int64_t> indices) override {
    FROST_CHECK(!indices.empty(), InvalidArgument, name_ << ": no frames requested");
    for (int64_t i : indices)
      FROST_CHECK(i >= 0 && i < frame_count(), InvalidArgument,
                  name_ << ": frame index " << i << " is outside its " << frame_count() << " frames");
    std::vector<int64_t> wanted(indices.begin(), indices.end());
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    HostTensor out(DType::U8, {int64_t(indices.size()), height_, width_, 3});
    const size_t frame_bytes = size_t(width_) * size_t(height_) * 3;
    std::vector<int64_t> damaged;
    const int64_t promised = frame_count();
    data_lost_ = false;
    for (size_t k = 0; k < wanted.size(); ++k) {  // ascending, so the decoder mostly moves forward
      const int64_t want = wanted[k];
      int64_t at = want;  // the frame's index now
      for (bool retry = !verified_;;) {
        if (!verified_ && data_lost_) reindex();
        if (frame_count() != promised) recounted(promised);
        const bool found = ordinal_mode_ ? decode_ordinal(at) : decode_index(at);
        if (found) break;
        if (!retry) missing(at);
        reindex();  // the packet index promised a frame the decoder did not give
        retry = false;
      }
      if (frame_damaged_ || chain_damaged_) damaged.push_back(at);
      for (size_t j = 0; j < indices.size(); ++j)
        if (indices[j] == want) convert(out.data<uint8_t>() + j * frame_bytes, at);
    }
    // Data the decoder rejected while giving the last frame: the count is checked before anything returns.
    if (!verified_ && data_lost_) {
      reindex();
      if (frame_count() != promised) recounted(promised);
    }
    if (!damaged.empty() || lost_ > 0) report_damage(damaged);
    return out;
  }

 private:
  // A demuxed packet of the video stream, in decode order.
  struct Packet {
    int64_t pts, dts;
    bool key;
  };

  // Learns which frames the decoder will deliver, in its output (display) order, and each one's timestamp.
  //
  // The fast way demuxes every packet without decoding: one packet is one frame, and sorting the packets'
  // presentation timestamps gives the display order. That holds only where the timestamps are whole and
  // true, so it is taken only when the packets prove it: every packet has a timestamp, no two share one, a
  // decoder that reorders frames sees timestamps out of decode order (a raw stream remuxed with `-c copy`
  // has pts = dts in decode order: sorting would give decode order, not display order), the stream starts
  // at a key frame with no picture displayed before it (a stream cut inside a group of pictures, or an
  // open GOP's leading pictures, starts with pictures the decoder cannot deliver), and no packet is flagged
  // corrupt. Otherwise the stream is decoded once, start to end, and the frames are what the decoder
  // outputs — the `ffmpeg` command's count and order — identified by their timestamps, or by their rank
  // where the decoder gives none or repeats one.
  void index_frames() {
    std::vector<Packet>& packets = packets_;
    bool trusted = true;
    int r = 0;
    while ((r = av_read_frame(fmt_.get(), packet_.get())) >= 0) {
      const AVPacket& p = *packet_;
      if (p.stream_index == stream_ && p.size > 0) {
        // A packet the decoder will reject (damaged data) delivers no frame: only decoding counts right.
        if ((p.flags & AV_PKT_FLAG_CORRUPT) || !nal_units_whole(p)) trusted = false;
        // Packets flagged DISCARD (before an MP4 edit list's start) are decoded but give no output frame.
        if (!(p.flags & AV_PKT_FLAG_DISCARD))
          packets.push_back({p.pts, p.dts, (p.flags & AV_PKT_FLAG_KEY) != 0});
        if (int64_t(packets.size()) > limits_.max_frames)
          bad(name_, "has more than " + std::to_string(limits_.max_frames) + " frames");
      }
      av_packet_unref(packet_.get());
    }
    // A read error other than the end (a truncated download, say) ends the index: the frames before it are
    // what any decoder can deliver.
    if (r != AVERROR_EOF) index_note_ = " (reading stopped early: " + av_error(r) + ")";
    if (packets.empty()) bad(name_, "holds no video frames" + index_note_);

    std::vector<int64_t> pts;
    pts.reserve(packets.size());
    for (const Packet& p : packets) {
      if (p.pts == AV_NOPTS_VALUE) trusted = false;
      pts.push_back(p.pts);
    }
    const bool reorders = fmt_->streams[stream_]->codecpar->video_delay > 0;
    if (trusted && reorders && std::is_sorted(pts.begin(), pts.end())) trusted = false;
    if (trusted && (!packets.front().key || *std::min_element(pts.begin(), pts.end()) != pts.front()))
      trusted = false;
    std::sort(pts.begin(), pts.end());
    if (std::adjacent_find(pts.begin(), pts.end()) != pts.end()) trusted = false;

    start_ts_ = INT64_MAX;
    for (const Packet& p : packets)
      for (int64_t t : {p.pts, p.dts})
        if (t != AV_NOPTS_VALUE) start_ts_ = std::min(start_ts_, t);
    if (trusted) {
      frame_ts_ = std::move(pts);
    } else {
      decode_all();
    }
    build_lookup();
  }

  // A read found the packet index wrong — the decoder rejected damaged data, or a frame never came — so the
  // stream is decoded once and indexed by what the decoder delivers (frame_count() changes).
  void reindex() {
    decode_all();
    build_lookup();
  }

  // by_ts_ and anchors_ from frame_ts_ and the packets.
  void build_lookup() {
    by_ts_.clear();
    anchors_.clear();
    // Frames are found again by their timestamps where each frame has its own; else by counting.
    ordinal_mode_ = std::find(frame_ts_.begin(), frame_ts_.end(), AV_NOPTS_VALUE) != frame_ts_.end();
    if (!ordinal_mode_) {
      by_ts_.reserve(frame_ts_.size());
      for (size_t i = 0; i < frame_ts_.size(); ++i) by_ts_.push_back({frame_ts_[i], int64_t(i)});
      std::sort(by_ts_.begin(), by_ts_.end());
      ordinal_mode_ = std::adjacent_find(by_ts_.begin(), by_ts_.end(), [](const auto& a, const auto& b) {
                        return a.first == b.first;
                      }) != by_ts_.end();
    }
    // Where decoding can start: each key frame, sought by its decode timestamp (the one every demuxer can
    // seek by; MPEG-TS seeks by dts, and a key frame's pts lies after the dts of frames decoded after it).
    if (!ordinal_mode_) {
      for (const Packet& p : packets_) {
        if (!p.key || p.pts == AV_NOPTS_VALUE) continue;
        const int64_t index = index_of(p.pts);
        if (index < 0) continue;  // a key frame the decoder does not deliver
        anchors_.push_back({p.dts == AV_NOPTS_VALUE ? p.pts : std::min(p.dts, p.pts), index});
      }
      std::sort(anchors_.begin(), anchors_.end(),
                [](const Anchor& a, const Anchor& b) { return a.first_index < b.first_index; });
    }
    positioned_ = false;  // the demuxer sits at the end: the first read seeks
  }

  // H.264 and HEVC in MP4 / MKV store each packet as NAL units behind length fields; FFmpeg's decoder rejects
  // the whole packet when a length runs past its end or is zero ("Invalid NAL unit size") — the usual
  // effect of overwritten or zeroed bytes — and the frame is lost. The same walk here, while indexing,
  // tells such a packet from a whole one without decoding it. Other packets: true.
  bool nal_units_whole(const AVPacket& p) const {
    if (nal_length_size_ == 0) return true;
    size_t at = 0;
    const size_t size = size_t(p.size);
    while (at < size) {
      if (size - at < size_t(nal_length_size_)) return false;
      size_t length = 0;
      for (int b = 0; b < nal_length_size_; ++b) length = (length << 8) | p.data[at + size_t(b)];
      at += size_t(nal_length_size_);
      if (length == 0 || length > size - at) return false;
      at += length;
    }
    return true;
  }

  // Decodes the whole stream once: frame_ts_ gets each output frame's timestamp, in output order, and
  // lost_ the packets the decoder rejected (each a frame lost).
  void decode_all() {
    frame_ts_.clear();
    verified_ = true;
    seek_start();
    rejected_ = 0;
    while (next_frame()) {
      frame_ts_.push_back(frame_->pts);
      if (int64_t(frame_ts_.size()) > limits_.max_frames)
        bad(name_, "has more than " + std::to_string(limits_.max_frames) + " frames");
    }
    if (frame_ts_.empty()) bad(name_, "holds no video frames the decoder can deliver" + index_note_);
    lost_ = rejected_;
    positioned_ = false;
  }

  // The frame with timestamp `ts`, or -1.
  int64_t index_of(int64_t ts) const {
    const auto it =
        std::lower_bound(by_ts_.begin(), by_ts_.end(), std::pair<int64_t, int64_t>{ts, INT64_MIN});
    return it != by_ts_.end() && it->first == ts ? it->second : -1;
  }

  void after_seek() {
    avcodec_flush_buffers(dec_.get());
    sent_end_ = false;
    positioned_ = true;
    have_frame_ = false;
    decoded_ = -1;
    chain_damaged_ = false;
  }

  // Seeks to the key frame at or before `ts` (a decode timestamp) and resets the decoder.
  void seek(int64_t ts) {
    int r = avformat_seek_file(fmt_.get(), stream_, INT64_MIN, ts, ts, 0);
    if (r < 0) r = av_seek_frame(fmt_.get(), stream_, ts, AVSEEK_FLAG_BACKWARD);
    if (r < 0) bad_av(name_, "cannot seek to timestamp " + std::to_string(ts), r);
    after_seek();
  }

  // Back to the first packet. Byte streams (MPEG-TS and -PS, whose timestamps may restart; raw streams,
  // which have none) seek to byte 0; containers with an index seek to the smallest timestamp (a byte seek
  // would land them inside their headers).
  void seek_start() {
    int r = -1;
    const bool byte_stream = (fmt_->iformat->flags & AVFMT_TS_DISCONT) || start_ts_ == INT64_MAX;
    if (byte_stream && !(fmt_->iformat->flags & AVFMT_NO_BYTE_SEEK))
      r = av_seek_frame(fmt_.get(), -1, 0, AVSEEK_FLAG_BYTE);
    if (r < 0 && start_ts_ != INT64_MAX)
      r = avformat_seek_file(fmt_.get(), stream_, INT64_MIN, start_ts_, start_ts_, 0);
    if (r < 0) r = av_seek_frame(fmt_.get(), stream_, INT64_MIN, AVSEEK_FLAG_BACKWARD | AVSEEK_FLAG_ANY);
    if (r < 0) bad_av(name_, "cannot seek back to the start", r);
    after_seek();
  }

  // Decodes the next frame into frame_; false when the stream has no more. Damage the decoder reports — a
  // packet it rejects, data it flags as invalid, a frame it marks corrupt or concealed errors in — marks
  // the frame, and the frames after it until the next clean key frame (they may predict from it).
  bool next_frame() {
    for (int damaged = 0;;) {
      int r = avcodec_receive_frame(dec_.get(), frame_.get());
      if (r == 0) {
        ++decoded_;
        frame_damaged_ = frame_->decode_error_flags != 0 || (frame_->flags & AV_FRAME_FLAG_CORRUPT);
        if (frame_->key_frame && !frame_damaged_)
          chain_damaged_ = false;
        else if (frame_damaged_)
          chain_damaged_ = true;
        return true;
      }
      if (r == AVERROR_EOF) return false;
      // Damaged data loses its frame, as in FFmpeg's own tools; a frame that never comes is reported missing.
      if (r == AVERROR_INVALIDDATA) {
        data_lost_ = true;
        if (decoded_ >= 0) ++rejected_;  // (pictures before the first frame are a cut stream's, not damage)
        if (++damaged > 10000) bad(name_, "decoding failed: the decoder reports damaged data without end");
        continue;
      }
      if (r != AVERROR(EAGAIN)) bad_av(name_, "decoding failed", r);
      if (sent_end_) return false;
      r = av_read_frame(fmt_.get(), packet_.get());
      if (r < 0) {  // the end, or a read error: drain what the decoder holds
        avcodec_send_packet(dec_.get(), nullptr);
        sent_end_ = true;
        continue;
      }
      if (packet_->stream_index == stream_) {
        if (packet_->flags & AV_PKT_FLAG_CORRUPT) chain_damaged_ = true;
        r = avcodec_send_packet(dec_.get(), packet_.get());
        // A damaged packet is skipped, as FFmpeg's own tools do; a frame it held is then reported missing.
        if (r == AVERROR_INVALIDDATA) {
          data_lost_ = true;
          if (decoded_ >= 0) ++rejected_;
        }
        if (r < 0 && r != AVERROR_INVALIDDATA) {
          av_packet_unref(packet_.get());
          bad_av(name_, "decoding failed", r);
        }
      }
      av_packet_unref(packet_.get());
    }
  }

  // The index was rebuilt from the decoder's output and the count changed: the caller's indices meant
  // frames of the old count, so it must sample again.
  [[noreturn]] void recounted(int64_t promised) {
    throw FrameCountChanged(ErrorCategory::BadFile,
                            name_ + ": damaged data: the decoder delivers " + std::to_string(frame_count()) +
                                " frames, not the " + std::to_string(promised) +
                                " its packets promise (frame_count() is now exact: sample again)");
  }

  [[noreturn]] void missing(int64_t index) {
    bad(name_, "frame " + std::to_string(index) + " of " + std::to_string(frame_count()) +
                   " could not be decoded" + index_note_);
  }

  // Leaves frame `index` (in output order) in frame_: decodes from the last key frame at or before it, and
  // checks each frame the decoder gives by its timestamp, so a seek that lands late (a demuxer that seeks by
  // another clock, an index that is off) is noticed and retried from an earlier key frame, then the start.
  bool decode_index(int64_t index) {
    if (have_frame_ && current_ == index) return true;
    auto anchor_before = [&](int64_t i) {  // the last key frame delivering a frame at or before i, or -1
      return int64_t(std::upper_bound(anchors_.begin(), anchors_.end(), i,
                                      [](int64_t v, const Anchor& a) { return v < a.first_index; }) -
                     anchors_.begin()) -
             1;
    };
    int64_t a = anchor_before(index);
    // Decode on from where the decoder is when that is on the way and no key frame lies between.
    const bool on_the_way = positioned_ && have_frame_ && current_ < index &&
                            (a < 0 || anchors_[size_t(a)].first_index <= current_);
    bool fresh = !on_the_way;
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (fresh) {
        if (a >= 0)
          seek(anchors_[size_t(a)].seek_ts);
        else
          seek_start();
      }
      while (next_frame()) {
        current_ = index_of(frame_->pts);
        have_frame_ = current_ >= 0;
        if (current_ == index) return true;
        if (current_ > index) break;
      }
      have_frame_ = false;
      if (fresh && a < 0) break;  // decoded from the start, and the frame never came
      if (fresh) a = attempt >= 2 ? -1 : a - 1;
      fresh = true;
    }
    return false;
  }

  // Ordinal mode: frame `index` is the index-th frame the decoder delivers from the start.
  bool decode_ordinal(int64_t index) {
    if (!positioned_ || !have_frame_ || decoded_ > index) seek_start();
    if (decoded_ == index && have_frame_) return true;
    while (decoded_ < index) {
      if (!next_frame()) {
        have_frame_ = false;
        return false;
      }
      have_frame_ = true;
    }
    return true;
  }

  // One warning for a read: which frames came out of damaged data (the decoder concealed the damage).
  // `frames` (of this read) came out of damaged data; lost_ frames were dropped by the decoder.
  void report_damage(const std::vector<int64_t>& frames) {
    std::string what = "damaged data:";
    if (lost_ > 0)
      what += " the decoder rejects " + std::to_string(lost_) + " packet" + (lost_ > 1 ? "s" : "") +
              ", whose frame" + (lost_ > 1 ? "s are" : " is") + " lost (" + std::to_string(frame_count()) +
              " frames remain)" + (frames.empty() ? "" : ";");
    if (!frames.empty()) {
      std::string list;
      for (size_t i = 0; i < frames.size(); ++i) list += (i ? ", " : "") + std::to_string(frames[i]);
      what += std::string(" frame") + (frames.size() > 1 ? "s " : " ") + list + " of " +
              std::to_string(frame_count()) + " decoded from it (the decoder concealed the damage)";
    }
    if (!limits_.on_warning) bad(name_, what);
    limits_.on_warning(name_ + ": " + what);
  }

  // frame_ → RGB (H, W, 3) at `out`, with the frame's own colour matrix and range (as FFmpeg's scale filter).
  void convert(uint8_t* out, int64_t index) {
    if (frame_->width != width_ || frame_->height != height_)
      bad(name_, "frame " + std::to_string(index) + " is " + std::to_string(frame_->width) + "x" +
                     std::to_string(frame_->height) + ", the video's first is " + std::to_string(width_) +
                     "x" + std::to_string(height_) + " (size changes mid-stream are not supported)");
    bool full_range = frame_->color_range == AVCOL_RANGE_JPEG;
    const AVPixelFormat format = plain_format(AVPixelFormat(frame_->format), full_range);
    sws_.reset(sws_getCachedContext(sws_.release(), width_, height_, format, width_, height_,
                                    AV_PIX_FMT_RGB24, SWS_BICUBIC, nullptr, nullptr, nullptr));
    if (!sws_)
      bad(name_, std::string("cannot convert pixel format ") + av_get_pix_fmt_name(format) + " to RGB");
    const int* coefficients = sws_getCoefficients(frame_->colorspace);
    sws_setColorspaceDetails(sws_.get(), coefficients, full_range ? 1 : 0,
                             sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
    // swscale's vector code writes whole blocks past a row's last pixel (and, for tiny frames, past the last
    // row): it converts into a buffer laid out as FFmpeg's own frames are (rows aligned to 64 bytes, padding
    // after the last), never straight into the tightly packed clip.
    const size_t row_bytes = size_t(width_) * 3;
    const int stride = int((row_bytes + 64 + 63) & ~size_t(63));
    const size_t scratch_bytes = size_t(stride) * size_t(height_ + 1) + 64;
    if (scratch_.size() < scratch_bytes + 64) scratch_.assign(scratch_bytes + 64, 0);
    // The first row on a 64-byte boundary, as av_frame_get_buffer gives (a vector's data is 16-aligned).
    uint8_t* base = scratch_.data() + ((64 - reinterpret_cast<uintptr_t>(scratch_.data()) % 64) % 64);
    uint8_t* planes[4] = {base, nullptr, nullptr, nullptr};
    const int strides[4] = {stride, 0, 0, 0};
    const int rows = sws_scale(sws_.get(), frame_->data, frame_->linesize, 0, height_, planes, strides);
    if (rows != height_) bad(name_, "converting frame " + std::to_string(index) + " to RGB failed");
    for (int y = 0; y < height_; ++y)
      std::memcpy(out + size_t(y) * row_bytes, base + size_t(y) * size_t(stride), row_bytes);
  }

  std::string name_;
  VideoLimits limits_;
  std::unique_ptr<AVFormatContext, CloseFormat> fmt_;
  std::unique_ptr<AVCodecContext, FreeCodec> dec_;
  std::unique_ptr<AVPacket, FreePacket> packet_;
  std::unique_ptr<AVFrame, FreeFrame> frame_;
  std::unique_ptr<SwsContext, FreeSws> sws_;
  std::vector<uint8_t> scratch_;  // RGB rows at swscale's stride (convert)
  int stream_ = -1;
  int width_ = 0, height_ = 0;
  // Where decoding can start: a key frame's seek timestamp and the first frame (in output order) that
  // decoding from it delivers.
  struct Anchor {
    int64_t seek_ts;
    int64_t first_index;
  };
  std::vector<Packet> packets_;                     // the video stream's packets, in decode order
  std::vector<int64_t> frame_ts_;                   // frame i's timestamp, in output order
  std::vector<std::pair<int64_t, int64_t>> by_ts_;  // (timestamp, frame), sorted
  std::vector<Anchor> anchors_;                     // by first_index
  int64_t start_ts_ = INT64_MAX;                    // the smallest timestamp of any packet
  std::string index_note_;                          // why indexing stopped early, if it did
  bool verified_ = false;    // frame_ts_ is what the decoder delivered (decode_all), not the packets' promise
  bool data_lost_ = false;   // the decoder rejected data since the read began: the packet index overcounts
  int64_t rejected_ = 0;     // packets the decoder rejected since decode_all began
  int64_t lost_ = 0;         // frames lost to rejected packets (known once the stream was decoded)
  int nal_length_size_ = 0;  // bytes of each NAL unit's length field (H.264 / HEVC in MP4, MKV), else 0
  bool ordinal_mode_ = false;  // frames found by counting from the start (no timestamp per frame)
  bool positioned_ = false;    // the demuxer/decoder are at a known place (after a seek)
  bool sent_end_ = false;      // the decoder has been told the input ended
  bool have_frame_ = false;    // frame_ holds frame current_ (or, in ordinal mode, frame decoded_)
  int64_t current_ = -1;
  int64_t decoded_ = -1;        // frames delivered since the last seek, minus one (ordinal mode)
  bool frame_damaged_ = false;  // frame_ came out of damaged data
  bool chain_damaged_ = false;  // damage since the last clean key frame: later frames may predict from it
};

}  // namespace

void quiet_ffmpeg_log() {
  set_ffmpeg_log_level();  // a program's choice (loader/video.h); the reader and writer never call it
}

std::unique_ptr<FrameSource> open_video_file(const std::string& path, const VideoLimits& limits) {
  return std::make_unique<VideoFile>(path, limits);
}

}  // namespace frost::loader
