#ifndef CFFMPEG_SHIM_H
#define CFFMPEG_SHIM_H

#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/channel_layout.h>
#include <libavutil/display.h>
#include <libavutil/error.h>
#include <libavutil/opt.h>
#include <libavutil/tx.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
#include <errno.h>
#include <math.h>

/// Macros and compound literals that Swift cannot import, re-exposed once.
static inline int swift_averror(int posixCode) { return AVERROR(posixCode); }
static inline int swift_averror_eof(void) { return AVERROR_EOF; }
static inline int swift_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }
static inline int swift_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int swift_averror_enoent(void) { return AVERROR(ENOENT); }
static inline int swift_averror_eacces(void) { return AVERROR(EACCES); }
static inline int swift_averror_decoder_not_found(void) { return AVERROR_DECODER_NOT_FOUND; }
static inline int swift_averror_stream_not_found(void) { return AVERROR_STREAM_NOT_FOUND; }
static inline int swift_averror_protocol_not_found(void) { return AVERROR_PROTOCOL_NOT_FOUND; }
static inline int swift_averror_exit(void) { return AVERROR_EXIT; }
static inline int64_t swift_av_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline int swift_av_time_base(void) { return AV_TIME_BASE; }

/// Sets `layout` to mono (AV_CHANNEL_LAYOUT_MONO is a compound literal).
static inline void swift_channel_layout_mono(AVChannelLayout *layout) {
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    *layout = mono;
}

/// `swr_convert` with the input planes passed as the frame's own array.
static inline int swift_swr_convert_frame_data(SwrContext *swr, float *out, int outCount, const AVFrame *frame) {
    uint8_t *outPlanes[1] = { (uint8_t *)out };
    if (frame == NULL) {
        return swr_convert(swr, outPlanes, outCount, NULL, 0);
    }
    return swr_convert(swr, outPlanes, outCount, (const uint8_t **)frame->extended_data, frame->nb_samples);
}

/// Plane pointer and line size of a frame (AVFrame.data imports as a tuple).
static inline const uint8_t *swift_frame_plane(const AVFrame *frame, int plane) { return frame->data[plane]; }
static inline int swift_frame_linesize(const AVFrame *frame, int plane) { return frame->linesize[plane]; }

/// Clockwise rotation, in degrees (0, 90, 180 or 270), that shows the stream upright: the display matrix side data
/// phones write (0 when there is none). `av_display_rotation_get` gives the counterclockwise angle.
static inline int swift_stream_display_rotation(const AVStream *stream) {
    size_t size = 0;
    const uint8_t *matrix = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &size);
    if (matrix == NULL || size < 9 * sizeof(int32_t)) return 0;
    double angle = -av_display_rotation_get((const int32_t *)matrix);
    if (isnan(angle)) return 0;
    int degrees = (int)lround(angle / 90.0) * 90;
    return ((degrees % 360) + 360) % 360;
}

#endif
