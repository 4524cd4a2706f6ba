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

typedef struct cvb_rect {
    int x, y, width, height;
} cvb_rect;

/// A Haar (or LBP) cascade classifier. The corresponding C++ type is `cv::CascadeClassifier`.
typedef struct cvb_cascade cvb_cascade;

cvb_cascade *cvb_cascade_load(const char *path, cvb_status *status);
void cvb_cascade_free(cvb_cascade *cascade);

/// Detects objects in an 8-bit gray image. Returns the number of rectangles found (written up to `capacity`),
/// or -1 with `status` set.
int cvb_cascade_detect(cvb_cascade *cascade, const uint8_t *pixels, int width, int height, int stride,
                       double scale_factor, int min_neighbors, int min_size, int max_size, int equalize,
                       cvb_rect *found, int capacity, cvb_status *status);

/// An ONNX network. The corresponding C++ type is `cv::dnn::Net`.
typedef struct cvb_net cvb_net;

cvb_net *cvb_net_load(const char *onnx_path, cvb_status *status);
void cvb_net_free(cvb_net *net);

/// Runs the network on a float32 tensor of `dims` dimensions; writes the first output, flattened.
/// Returns the number of output values (which may exceed `capacity`: then only `capacity` are written),
/// or -1 with `status` set.
int cvb_net_forward(cvb_net *net, const float *input, const int *shape, int dims,
                    float *output, int capacity, cvb_status *status);

/// Resizes an 8-bit gray image. `interpolation` is an OpenCV flag (1 linear, 3 area).
int cvb_resize(const uint8_t *pixels, int width, int height, int stride,
               uint8_t *out, int out_width, int out_height, int interpolation, cvb_status *status);

/// Reads an image file as 8-bit gray. On success `*pixels` is malloc'd (free with `cvb_free`).
int cvb_read_gray(const char *path, uint8_t **pixels, int *width, int *height, cvb_status *status);

void cvb_free(void *pointer);

/// Sets the number of threads OpenCV may use (cv::setNumThreads).
void cvb_set_threads(int threads);

#ifdef __cplusplus
}
#endif

#endif
