#include "CVBridge.h"

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <vector>

struct cvb_cascade {
    cv::CascadeClassifier classifier;
};

struct cvb_net {
    cv::dnn::Net net;
};

namespace {

void set_status(cvb_status *status, int code, const char *message) {
    if (status == nullptr) return;
    status->code = code;
    std::strncpy(status->message, message, sizeof(status->message) - 1);
    status->message[sizeof(status->message) - 1] = '\0';
}

void clear_status(cvb_status *status) {
    if (status == nullptr) return;
    status->code = 0;
    status->message[0] = '\0';
}

/// Runs `body`, turning any C++ exception into a status so that none crosses into Swift.
template <typename Result, typename Body>
Result guard_call(cvb_status *status, Result failure, Body body) {
    clear_status(status);
    try {
        return body();
    } catch (const cv::Exception &error) {
        set_status(status, error.code == 0 ? -1 : error.code, error.what());
    } catch (const std::exception &error) {
        set_status(status, -1, error.what());
    } catch (...) {
        set_status(status, -1, "unknown C++ exception");
    }
    return failure;
}

cv::Mat borrow_gray(const uint8_t *pixels, int width, int height, int stride) {
    if (pixels == nullptr || width <= 0 || height <= 0 || stride < width) {
        CV_Error(cv::Error::StsBadArg, "invalid gray image");
    }
    return cv::Mat(height, width, CV_8UC1, const_cast<uint8_t *>(pixels), static_cast<size_t>(stride));
}

}  // namespace

extern "C" {

cvb_cascade *cvb_cascade_load(const char *path, cvb_status *status) {
    return guard_call<cvb_cascade *>(status, nullptr, [&]() -> cvb_cascade * {
        auto *cascade = new cvb_cascade();
        if (!cascade->classifier.load(path)) {
            delete cascade;
            set_status(status, -1, "cannot load cascade (missing file or not a cascade XML)");
            return nullptr;
        }
        return cascade;
    });
}

void cvb_cascade_free(cvb_cascade *cascade) { delete cascade; }

int cvb_cascade_detect(cvb_cascade *cascade, const uint8_t *pixels, int width, int height, int stride,
                       double scale_factor, int min_neighbors, int min_size, int max_size, int equalize,
                       cvb_rect *found, int capacity, cvb_status *status) {
    return guard_call<int>(status, -1, [&]() -> int {
        cv::Mat image = borrow_gray(pixels, width, height, stride);
        cv::Mat input = image;
        if (equalize) cv::equalizeHist(image, input);
        std::vector<cv::Rect> rects;
        cascade->classifier.detectMultiScale(input, rects, scale_factor, min_neighbors, 0,
                                             cv::Size(min_size, min_size),
                                             max_size > 0 ? cv::Size(max_size, max_size) : cv::Size());
        int count = static_cast<int>(rects.size());
        for (int i = 0; i < count && i < capacity; ++i) {
            found[i] = cvb_rect{rects[i].x, rects[i].y, rects[i].width, rects[i].height};
        }
        return count;
    });
}

cvb_net *cvb_net_load(const char *onnx_path, cvb_status *status) {
    return guard_call<cvb_net *>(status, nullptr, [&]() -> cvb_net * {
        cv::dnn::Net net = cv::dnn::readNetFromONNX(onnx_path);
        if (net.empty()) {
            set_status(status, -1, "the ONNX file holds no network");
            return nullptr;
        }
        net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
        return new cvb_net{net};
    });
}

void cvb_net_free(cvb_net *net) { delete net; }

int cvb_net_forward(cvb_net *net, const float *input, const int *shape, int dims,
                    float *output, int capacity, cvb_status *status) {
    return guard_call<int>(status, -1, [&]() -> int {
        cv::Mat blob(dims, shape, CV_32F, const_cast<float *>(input));
        net->net.setInput(blob);
        cv::Mat result = net->net.forward();
        if (!result.isContinuous()) result = result.clone();
        int count = static_cast<int>(result.total());
        std::memcpy(output, result.ptr<float>(), sizeof(float) * static_cast<size_t>(std::min(count, capacity)));
        return count;
    });
}

int cvb_resize(const uint8_t *pixels, int width, int height, int stride,
               uint8_t *out, int out_width, int out_height, int interpolation, cvb_status *status) {
    return guard_call<int>(status, -1, [&]() -> int {
        cv::Mat image = borrow_gray(pixels, width, height, stride);
        cv::Mat destination(out_height, out_width, CV_8UC1, out);
        cv::resize(image, destination, cv::Size(out_width, out_height), 0, 0, interpolation);
        if (destination.data != out) CV_Error(cv::Error::StsInternal, "resize reallocated its output");
        return 0;
    });
}

int cvb_read_gray(const char *path, uint8_t **pixels, int *width, int *height, cvb_status *status) {
    return guard_call<int>(status, -1, [&]() -> int {
        cv::Mat image = cv::imread(path, cv::IMREAD_GRAYSCALE);
        if (image.empty()) {
            set_status(status, -1, "cannot read the image (missing, unreadable or not an image)");
            return -1;
        }
        if (!image.isContinuous()) image = image.clone();
        size_t bytes = image.total();
        auto *copy = static_cast<uint8_t *>(std::malloc(bytes));
        if (copy == nullptr) CV_Error(cv::Error::StsNoMem, "out of memory");
        std::memcpy(copy, image.data, bytes);
        *pixels = copy;
        *width = image.cols;
        *height = image.rows;
        return 0;
    });
}

void cvb_free(void *pointer) { std::free(pointer); }

void cvb_set_threads(int threads) { cv::setNumThreads(threads); }

}  // extern "C"
