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

// FFmpeg logs what it thinks of damaged input to stderr; frost reports problems as errors instead, so its
// log is silenced unless the embedding program chose a level itself or FROST_FFMPEG_LOG names one
// (quiet, fatal, error, warning, info, verbose, debug) to see FFmpeg's own diagnostics.
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
    set_ffmpeg_log_level();
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
    dec_->thread_count = 0;  // as many decoding threads as FFmpeg sees fit
    r = avcodec_open2(dec_.get(), codec, nullptr);
    if (r < 0) bad_av(name_, std::string("cannot open the ") + codec->name + " decoder", r);

    index_frames();
  }

  const std::string& name() const override { return name_; }
  int64_t frame_count() const override { return int64_t(pts_.size()); }

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
    for (int64_t want : wanted) {  // ascending, so the decoder mostly moves forward
      if (ordinal_mode_)
        decode_ordinal(want);
      else
        decode_timestamp(want);
      for (size_t j = 0; j < indices.size(); ++j)
        if (indices[j] == want) convert(out.data<uint8_t>() + j * frame_bytes, want);
    }
    return out;
  }

 private:
  // Demuxes every packet of the video stream (no decoding) to learn the frames' timestamps and key frames.
  void index_frames() {
    bool timestamps_usable = true;
    int r = 0;
    while ((r = av_read_frame(fmt_.get(), packet_.get())) >= 0) {
      const AVPacket& p = *packet_;
      // Packets flagged DISCARD (before an MP4 edit list's start) decode to no output frame; CORRUPT ones
      // (the cut-off last packet of a truncated file) cannot be expected to.
      if (p.stream_index == stream_ && p.size > 0 &&
          !(p.flags & (AV_PKT_FLAG_DISCARD | AV_PKT_FLAG_CORRUPT))) {
        if (p.pts == AV_NOPTS_VALUE) timestamps_usable = false;
        pts_.push_back(p.pts);
        if (p.flags & AV_PKT_FLAG_KEY) keys_.push_back(p.pts);
        if (int64_t(pts_.size()) > limits_.max_frames)
          bad(name_, "has more than " + std::to_string(limits_.max_frames) + " frames");
      }
      av_packet_unref(packet_.get());
    }
    // A read error other than the end (a truncated download, say) ends the index: the frames before it are
    // what any decoder can deliver.
    if (r != AVERROR_EOF) index_note_ = " (reading stopped early: " + av_error(r) + ")";
    if (pts_.empty()) bad(name_, "holds no video frames" + index_note_);
    std::sort(pts_.begin(), pts_.end());
    std::sort(keys_.begin(), keys_.end());
    if (std::adjacent_find(pts_.begin(), pts_.end()) != pts_.end()) timestamps_usable = false;
    // Without a timestamp per frame (raw streams), frames are found by counting from the start.
    ordinal_mode_ = !timestamps_usable;
    positioned_ = false;  // the demuxer sits at the end: the first read seeks
  }

  // Seeks to the key frame at or before `ts` (or the start) and resets the decoder.
  void seek(int64_t ts) {
    int r = avformat_seek_file(fmt_.get(), stream_, INT64_MIN, ts, ts, 0);
    if (r < 0) r = av_seek_frame(fmt_.get(), stream_, ts, AVSEEK_FLAG_BACKWARD);
    if (r < 0) bad_av(name_, "cannot seek to timestamp " + std::to_string(ts), r);
    avcodec_flush_buffers(dec_.get());
    sent_end_ = false;
    positioned_ = true;
    decoded_ = -1;
  }

  // Back to the first frame. Streams without timestamps (ordinal mode) are raw streams: a byte seek works.
  void seek_start() {
    if (!ordinal_mode_) return seek(keys_.empty() ? pts_.front() : std::min(keys_.front(), pts_.front()));
    int r = av_seek_frame(fmt_.get(), -1, 0, AVSEEK_FLAG_BYTE);
    if (r < 0) r = av_seek_frame(fmt_.get(), stream_, INT64_MIN, AVSEEK_FLAG_BACKWARD | AVSEEK_FLAG_ANY);
    if (r < 0) bad_av(name_, "cannot seek back to the start", r);
    avcodec_flush_buffers(dec_.get());
    sent_end_ = false;
    positioned_ = true;
    decoded_ = -1;
  }

  // Decodes the next frame into frame_; false when the stream has no more.
  bool next_frame() {
    for (int damaged = 0;;) {
      int r = avcodec_receive_frame(dec_.get(), frame_.get());
      if (r == 0) {
        ++decoded_;
        return true;
      }
      if (r == AVERROR_EOF) return false;
      // Damaged data loses its frame, as in FFmpeg's own tools; a frame that never comes is reported missing.
      if (r == AVERROR_INVALIDDATA) {
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
        r = avcodec_send_packet(dec_.get(), packet_.get());
        // A damaged packet is skipped, as FFmpeg's own tools do; a frame it held is then reported missing.
        if (r < 0 && r != AVERROR_INVALIDDATA) {
          av_packet_unref(packet_.get());
          bad_av(name_, "decoding failed", r);
        }
      }
      av_packet_unref(packet_.get());
    }
  }

  int64_t frame_timestamp() const {
    return frame_->pts != AV_NOPTS_VALUE ? frame_->pts : frame_->best_effort_timestamp;
  }

  [[noreturn]] void missing(int64_t index) {
    bad(name_, "frame " + std::to_string(index) + " of " + std::to_string(frame_count()) +
                   " could not be decoded" + index_note_);
  }

  // Leaves frame `index` (in presentation order) in frame_.
  void decode_timestamp(int64_t index) {
    const int64_t target = pts_[size_t(index)];
    if (have_frame_ && last_ts_ == target) return;
    // The last key frame at or before the target: decoding must start there or earlier.
    int64_t key_at = int64_t(std::upper_bound(keys_.begin(), keys_.end(), target) - keys_.begin()) - 1;
    // Decode on from where the decoder is when that is on the way and no key frame lies between.
    const bool behind = positioned_ && have_frame_ && last_ts_ < target;
    bool fresh = !(behind && (key_at < 0 || keys_[size_t(key_at)] <= last_ts_));
    // Seek attempts: the key frame, two earlier ones (for a demuxer whose seek lands late), the start.
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (fresh) {
        if (key_at >= 0)
          seek(keys_[size_t(key_at)]);
        else
          seek_start();
      }
      while (next_frame()) {
        have_frame_ = true;
        last_ts_ = frame_timestamp();
        if (last_ts_ == target) return;
        if (last_ts_ > target) break;
      }
      have_frame_ = false;
      if (fresh && key_at < 0) break;  // decoded from the start, and the frame never came
      if (fresh) key_at = attempt >= 2 ? -1 : key_at - 1;
      fresh = true;
    }
    missing(index);
  }

  // Ordinal mode: frame `index` is the index-th frame the decoder delivers from the start.
  void decode_ordinal(int64_t index) {
    if (!positioned_ || !have_frame_ || decoded_ >= index) seek_start();
    while (decoded_ < index) {
      if (!next_frame()) {
        have_frame_ = false;
        missing(index);
      }
      have_frame_ = true;
    }
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
  std::vector<int64_t> pts_;   // sorted presentation timestamps: frame i has pts_[i]
  std::vector<int64_t> keys_;  // sorted timestamps of the key frames
  std::string index_note_;     // why indexing stopped early, if it did
  bool ordinal_mode_ = false;
  bool positioned_ = false;  // the demuxer/decoder are at a known place (after a seek)
  bool sent_end_ = false;    // the decoder has been told the input ended
  bool have_frame_ = false;  // frame_ holds the last frame decoded, at last_ts_
  int64_t last_ts_ = 0;
  int64_t decoded_ = -1;  // frames delivered since the last seek, minus one (ordinal mode)
};

}  // namespace

void quiet_ffmpeg_log() {
  set_ffmpeg_log_level();
}

std::unique_ptr<FrameSource> open_video_file(const std::string& path, const VideoLimits& limits) {
  return std::make_unique<VideoFile>(path, limits);
}

}  // namespace frost::loader
