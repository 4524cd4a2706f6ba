#ifndef CVBRIDGE_H
#define CVBRIDGE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Outcome of a bridge call: `code` 0 on success; otherwise OpenCV's error code (or -1) and its message.
typedef struct cvb_status {
    int code;
    char message[512];
} cvb_status;

/// An ONNX network. The corresponding C++ type is `cv::dnn::Net`.
typedef struct cvb_net cvb_net;

cvb_net *cvb_net_load(const char *onnx_path, cvb_status *status);
void cvb_net_free(cvb_net *net);

/// Runs a network on `count` named float32 inputs (input `i` has `dims[i]` dimensions, listed one after another in
/// `shapes`; an empty name is the network's first input) and writes its first output, flattened. Returns the number
/// of output values (which may exceed `capacity`: then only `capacity` are written), or -1 with `status` set.
int cvb_net_forward_named(cvb_net *net, int count, const char *const *names, const float *const *inputs,
                          const int *shapes, const int *dims, float *output, int capacity, cvb_status *status);

/// One face found by the YuNet detector, in the searched image's pixel coordinates.
typedef struct cvb_face {
    double x, y, width, height;
    double score;
    /// Right eye, left eye, nose tip, right and left mouth corner (image-left first), as x, y pairs.
    double landmarks[10];
} cvb_face;

/// Runs a YuNet 2023mar network (`net`) on an 8-bit gray image: resized to `input_width` x `input_height`
/// (multiples of 32; INTER_AREA when shrinking, INTER_LINEAR otherwise), replicated to 3 channels, unscaled.
/// Decodes the anchor-free outputs of strides 8, 16 and 32, keeps scores >= `score_threshold`, applies greedy
/// non-maximum suppression at `nms_threshold` and writes the faces, best first, up to `capacity`.
/// Returns the number of faces, or -1 with `status` set.
int cvb_yunet_detect(cvb_net *net, const uint8_t *pixels, int width, int height, int stride,
                     int input_width, int input_height, double score_threshold, double nms_threshold,
                     cvb_face *found, int capacity, cvb_status *status);

/// The `size` x `size` aligned crop of an 8-bit gray image under the 2x3 affine `matrix` (source -> crop,
/// row-major). A shrinking transform (scale < 1) first resizes the source region that lands in the crop with
/// INTER_AREA, then `cv::warpAffine` (INTER_LINEAR, BORDER_REPLICATE) writes `out` (`size * size` bytes).
int cvb_warp_face(const uint8_t *pixels, int width, int height, int stride, const double *matrix, int size,
                  uint8_t *out, cvb_status *status);

/// The region `[x0, x1) x [y0, y1)` of an 8-bit gray image (integer pixel bounds that may run off the image,
/// where `pad_value` fills), resized to `resize` x `resize` (INTER_LINEAR), whose centre `size` x `size` is
/// written to `out`: the crop the active speaker models were trained on.
int cvb_crop_centre(const uint8_t *pixels, int width, int height, int stride, int x0, int y0, int x1, int y1,
                    int pad_value, int resize, int size, uint8_t *out, cvb_status *status);

/// Reads an image file as 8-bit gray. On success `*pixels` is malloc'd (free with `cvb_free`).
int cvb_read_gray(const char *path, uint8_t **pixels, int *width, int *height, cvb_status *status);

void cvb_free(void *pointer);

/// Sets the number of threads OpenCV may use (cv::setNumThreads).
void cvb_set_threads(int threads);

#ifdef __cplusplus
}
#endif

#endif
