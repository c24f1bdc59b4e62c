#include <cstring>
#include <vector>

#include "engine/error.h"
#include "loader/files.h"
#include "loader/video_file.h"
#include "loader/video_write.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

namespace frost::loader {
namespace {

std::string av_error(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, buf, sizeof buf);
  return buf;
}

void check_av(int code, const std::string& path, const char* what) {
  if (code >= 0) return;
  if (code == AVERROR(ENOMEM)) throw std::bad_alloc();
  FROST_FAIL(Io, path << ": " << what << ": " << av_error(code));
}

const AVCodec* h264_encoder() {
  const AVCodec* c = avcodec_find_encoder_by_name("libx264");
  return c != nullptr ? c : avcodec_find_encoder(AV_CODEC_ID_H264);
}

// The muxer's output: a growable buffer it may seek in (MP4 writes its index at the end and patches sizes).
struct MemoryFile {
  std::vector<uint8_t> bytes;
  int64_t pos = 0;
};
int write_packet(void* opaque, uint8_t* buf, int size) {  // FFmpeg 5: non-const buf
  auto* f = static_cast<MemoryFile*>(opaque);
  if (f->pos + size > int64_t(f->bytes.size())) f->bytes.resize(size_t(f->pos + size));
  std::memcpy(f->bytes.data() + f->pos, buf, size_t(size));
  f->pos += size;
  return size;
}
int64_t seek(void* opaque, int64_t offset, int whence) {
  auto* f = static_cast<MemoryFile*>(opaque);
  whence &= ~AVSEEK_FORCE;
  if (whence == AVSEEK_SIZE) return int64_t(f->bytes.size());
  const int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? f->pos : int64_t(f->bytes.size());
  if (base + offset < 0) return AVERROR(EINVAL);
  f->pos = base + offset;
  return f->pos;
}

}  // namespace

bool video_writing_supported() {
  return h264_encoder() != nullptr;
}

void write_video(const std::string& path, const HostTensor& frames, const VideoWriteOptions& o) {
  const Shape& s = frames.shape();
  FROST_CHECK(frames.dtype() == DType::U8 && s.rank() == 4 && s[0] >= 1 && s[3] == 3 && s[1] >= 2 &&
                  s[2] >= 2 && s[1] % 2 == 0 && s[2] % 2 == 0 && s[1] <= 8192 && s[2] <= 8192,
              InvalidArgument,
              "write_video: frames must be U8 (T, H, W, 3) RGB with even H and W (yuv420p), got "
                  << frames.dtype() << s);
  FROST_CHECK(o.fps >= 1 && o.fps <= 240 && o.crf >= 0 && o.crf <= 51, InvalidArgument,
              "write_video: fps " << o.fps << " (1..240) or crf " << o.crf << " (0..51) out of range");
  const AVCodec* codec = h264_encoder();
  FROST_CHECK(codec != nullptr, Unsupported, "write_video: this FFmpeg has no H.264 encoder (libx264)");
  const int T = int(s[0]), H = int(s[1]), W = int(s[2]);

  MemoryFile mem;
  AVFormatContext* oc = nullptr;
  check_av(avformat_alloc_output_context2(&oc, nullptr, "mp4", nullptr), path, "MP4 muxer");
  AVCodecContext* ctx = avcodec_alloc_context3(codec);
  AVFrame* frame = av_frame_alloc();
  AVPacket* pkt = av_packet_alloc();
  SwsContext* sws = nullptr;
  uint8_t* io_buffer = nullptr;
  AVIOContext* io = nullptr;
  auto cleanup = [&] {
    sws_freeContext(sws);
    av_packet_free(&pkt);
    av_frame_free(&frame);
    avcodec_free_context(&ctx);
    if (io != nullptr) {
      av_freep(&io->buffer);
      avio_context_free(&io);
    } else {
      av_free(io_buffer);
    }
    avformat_free_context(oc);
  };
  try {
    if (ctx == nullptr || frame == nullptr || pkt == nullptr) throw std::bad_alloc();
    AVStream* st = avformat_new_stream(oc, nullptr);
    if (st == nullptr) throw std::bad_alloc();
    ctx->width = W;
    ctx->height = H;
    ctx->pix_fmt = AV_PIX_FMT_YUV420P;
    ctx->time_base = AVRational{1, o.fps};
    ctx->framerate = AVRational{o.fps, 1};
    ctx->gop_size = 12;
    ctx->max_b_frames = 0;  // presentation order = decode order: no edit-list shift for readers to undo
    ctx->thread_count = 1;  // deterministic bytes whatever the machine
    if (oc->oformat->flags & AVFMT_GLOBALHEADER) ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av_opt_set(ctx->priv_data, "crf", std::to_string(o.crf).c_str(), 0);
    av_opt_set(ctx->priv_data, "preset", "veryfast", 0);
    check_av(avcodec_open2(ctx, codec, nullptr), path, "H.264 encoder");
    check_av(avcodec_parameters_from_context(st->codecpar, ctx), path, "stream parameters");
    st->time_base = ctx->time_base;
    constexpr int kIoBuffer = 1 << 16;
    io_buffer = static_cast<uint8_t*>(av_malloc(kIoBuffer));
    if (io_buffer == nullptr) throw std::bad_alloc();
    io = avio_alloc_context(io_buffer, kIoBuffer, 1, &mem, nullptr, write_packet, seek);
    if (io == nullptr) throw std::bad_alloc();
    oc->pb = io;
    // No edit list: without one every packet is presented (with one, this muxer version cut the last frame).
    av_opt_set(oc->priv_data, "use_editlist", "0", 0);
    check_av(avformat_write_header(oc, nullptr), path, "MP4 header");

    frame->format = ctx->pix_fmt;
    frame->width = W;
    frame->height = H;
    check_av(av_frame_get_buffer(frame, 0), path, "frame buffer");
    sws = sws_getContext(W, H, AV_PIX_FMT_RGB24, W, H, AV_PIX_FMT_YUV420P, SWS_BILINEAR, nullptr, nullptr,
                         nullptr);
    if (sws == nullptr) throw std::bad_alloc();
    auto drain = [&] {
      for (;;) {
        const int r = avcodec_receive_packet(ctx, pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
        check_av(r, path, "encoding");
        if (pkt->duration == 0) pkt->duration = 1;  // one frame, in the encoder's time base
        av_packet_rescale_ts(pkt, ctx->time_base, st->time_base);
        pkt->stream_index = st->index;
        check_av(av_interleaved_write_frame(oc, pkt), path, "writing a packet");
      }
    };
    for (int t = 0; t < T; ++t) {
      check_av(av_frame_make_writable(frame), path, "frame buffer");
      const uint8_t* src[1] = {frames.data<uint8_t>() + size_t(t) * size_t(H) * size_t(W) * 3};
      const int src_stride[1] = {3 * W};
      sws_scale(sws, src, src_stride, 0, H, frame->data, frame->linesize);
      frame->pts = t;
      check_av(avcodec_send_frame(ctx, frame), path, "encoding");
      drain();
    }
    check_av(avcodec_send_frame(ctx, nullptr), path, "encoding");
    drain();
    check_av(av_write_trailer(oc), path, "MP4 trailer");
    avio_flush(io);
  } catch (...) {
    cleanup();
    throw;
  }
  cleanup();
  AtomicFile out(path);
  out.write(mem.bytes.data(), mem.bytes.size());
  out.commit();
}

}  // namespace frost::loader
