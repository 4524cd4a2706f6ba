#include "CVBridge.h"

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <string>
#include <cstring>
#include <exception>
#include <vector>

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

double box_iou(const cvb_face &a, const cvb_face &b) {
    double x1 = std::max(a.x, b.x), y1 = std::max(a.y, b.y);
    double x2 = std::min(a.x + a.width, b.x + b.width), y2 = std::min(a.y + a.height, b.y + b.height);
    double inter = std::max(0.0, x2 - x1) * std::max(0.0, y2 - y1);
    double uni = a.width * a.height + b.width * b.height - inter;
    return uni > 0 ? inter / uni : 0.0;
}

}  // namespace

extern "C" {

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

int cvb_net_forward_named(cvb_net *net, int count, const char *const *names, const float *const *inputs,
                          const int *shapes, const int *dims, float *output, int capacity, cvb_status *status) {
    return guard_call<int>(status, -1, [&]() -> int {
        const int *shape = shapes;
        for (int i = 0; i < count; ++i) {
            cv::Mat blob(dims[i], shape, CV_32F, const_cast<float *>(inputs[i]));
            net->net.setInput(blob, names[i]);
            shape += dims[i];
        }
        cv::Mat result = net->net.forward();
        if (!result.isContinuous()) result = result.clone();
        int total = static_cast<int>(result.total());
        std::memcpy(output, result.ptr<float>(), sizeof(float) * static_cast<size_t>(std::min(total, capacity)));
        return total;
    });
}

int cvb_yunet_detect(cvb_net *net, const uint8_t *pixels, int width, int height, int stride,
                     int input_width, int input_height, double score_threshold, double nms_threshold,
                     cvb_face *found, int capacity, cvb_status *status) {
    return guard_call<int>(status, -1, [&]() -> int {
        if (input_width <= 0 || input_height <= 0 || input_width % 32 != 0 || input_height % 32 != 0) {
            CV_Error(cv::Error::StsBadArg, "the detector's input size must be positive multiples of 32");
        }
        cv::Mat image = borrow_gray(pixels, width, height, stride);
        bool shrink = input_width < width || input_height < height;
        cv::Mat resized;
        cv::resize(image, resized, cv::Size(input_width, input_height), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
        int plane = input_width * input_height;
        int shape[4] = {1, 3, input_height, input_width};
        cv::Mat blob(4, shape, CV_32F);
        float *values = blob.ptr<float>();
        for (int y = 0; y < input_height; ++y) {
            const uint8_t *row = resized.ptr<uint8_t>(y);
            for (int x = 0; x < input_width; ++x) values[y * input_width + x] = row[x];
        }
        std::memcpy(values + plane, values, sizeof(float) * plane);
        std::memcpy(values + 2 * plane, values, sizeof(float) * plane);
        net->net.setInput(blob);
        static const int strides[3] = {8, 16, 32};
        std::vector<std::string> names;
        for (int s : strides) {
            for (const char *kind : {"cls", "obj", "bbox", "kps"}) names.push_back(std::string(kind) + "_" + std::to_string(s));
        }
        std::vector<cv::Mat> outputs;
        net->net.forward(outputs, names);
        std::vector<cvb_face> faces;
        for (int k = 0; k < 3; ++k) {
            int s = strides[k];
            int cols = input_width / s;
            int cells = cols * (input_height / s);
            const cv::Mat &cls = outputs[4 * k], &obj = outputs[4 * k + 1], &bbox = outputs[4 * k + 2], &kps = outputs[4 * k + 3];
            if (static_cast<int>(cls.total()) != cells || static_cast<int>(bbox.total()) != 4 * cells ||
                static_cast<int>(kps.total()) != 10 * cells) {
                CV_Error(cv::Error::StsUnmatchedSizes, "the network's outputs are not YuNet 2023mar's");
            }
            const float *c = cls.ptr<float>(), *o = obj.ptr<float>(), *b = bbox.ptr<float>(), *l = kps.ptr<float>();
            for (int i = 0; i < cells; ++i) {
                double score = std::sqrt(std::clamp<double>(c[i], 0, 1) * std::clamp<double>(o[i], 0, 1));
                if (score < score_threshold) continue;
                double r = i / cols, col = i % cols;
                double cx = (col + b[4 * i]) * s, cy = (r + b[4 * i + 1]) * s;
                double w = std::exp(static_cast<double>(b[4 * i + 2])) * s, h = std::exp(static_cast<double>(b[4 * i + 3])) * s;
                cvb_face face{cx - w / 2, cy - h / 2, w, h, score, {}};
                for (int m = 0; m < 5; ++m) {
                    face.landmarks[2 * m] = (col + l[10 * i + 2 * m]) * s;
                    face.landmarks[2 * m + 1] = (r + l[10 * i + 2 * m + 1]) * s;
                }
                faces.push_back(face);
            }
        }
        std::vector<size_t> order(faces.size());
        std::iota(order.begin(), order.end(), 0);
        // Highest score first, ties in decoding order (a stable sort, written out: libstdc++'s stable_sort warns).
        std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
            return faces[a].score != faces[b].score ? faces[a].score > faces[b].score : a < b;
        });
        std::vector<cvb_face> kept;
        std::vector<bool> suppressed(faces.size(), false);
        for (size_t i = 0; i < order.size(); ++i) {
            if (suppressed[i]) continue;
            const cvb_face &best = faces[order[i]];
            kept.push_back(best);
            for (size_t j = i + 1; j < order.size(); ++j) {
                if (!suppressed[j] && box_iou(best, faces[order[j]]) > nms_threshold) suppressed[j] = true;
            }
        }
        double sx = static_cast<double>(width) / input_width, sy = static_cast<double>(height) / input_height;
        int count = static_cast<int>(kept.size());
        for (int i = 0; i < count && i < capacity; ++i) {
            cvb_face face = kept[i];
            face.x *= sx;
            face.width *= sx;
            face.y *= sy;
            face.height *= sy;
            for (int m = 0; m < 5; ++m) {
                face.landmarks[2 * m] *= sx;
                face.landmarks[2 * m + 1] *= sy;
            }
            found[i] = face;
        }
        return count;
    });
}

int cvb_warp_face(const uint8_t *pixels, int width, int height, int stride, const double *matrix, int size,
                  uint8_t *out, cvb_status *status) {
    return guard_call<int>(status, -1, [&]() -> int {
        if (size <= 0) CV_Error(cv::Error::StsBadArg, "the crop size must be positive");
        cv::Mat image = borrow_gray(pixels, width, height, stride);
        cv::Matx23d m(matrix[0], matrix[1], matrix[2], matrix[3], matrix[4], matrix[5]);
        double scale = std::hypot(m(0, 0), m(1, 0));
        cv::Mat source = image;
        cv::Mat shrunk;
        if (scale < 1.0) {
            cv::Matx23d inverse;
            cv::invertAffineTransform(m, inverse);
            double xs[4], ys[4];
            const double corners[4][2] = {{0, 0}, {static_cast<double>(size), 0}, {0, static_cast<double>(size)},
                                          {static_cast<double>(size), static_cast<double>(size)}};
            for (int i = 0; i < 4; ++i) {
                xs[i] = inverse(0, 0) * corners[i][0] + inverse(0, 1) * corners[i][1] + inverse(0, 2);
                ys[i] = inverse(1, 0) * corners[i][0] + inverse(1, 1) * corners[i][1] + inverse(1, 2);
            }
            int x0 = std::max(0, static_cast<int>(std::floor(*std::min_element(xs, xs + 4))) - 2);
            int y0 = std::max(0, static_cast<int>(std::floor(*std::min_element(ys, ys + 4))) - 2);
            int x1 = std::min(width, static_cast<int>(std::ceil(*std::max_element(xs, xs + 4))) + 2);
            int y1 = std::min(height, static_cast<int>(std::ceil(*std::max_element(ys, ys + 4))) + 2);
            if (x1 - x0 >= 2 && y1 - y0 >= 2) {
                int cw = std::max(1, static_cast<int>(std::lround((x1 - x0) * scale)));
                int ch = std::max(1, static_cast<int>(std::lround((y1 - y0) * scale)));
                cv::resize(image(cv::Rect(x0, y0, x1 - x0, y1 - y0)), shrunk, cv::Size(cw, ch), 0, 0, cv::INTER_AREA);
                source = shrunk;
                double fx = static_cast<double>(cw) / (x1 - x0), fy = static_cast<double>(ch) / (y1 - y0);
                m = cv::Matx23d(m(0, 0) / fx, m(0, 1) / fy, m(0, 0) * x0 + m(0, 1) * y0 + m(0, 2),
                                m(1, 0) / fx, m(1, 1) / fy, m(1, 0) * x0 + m(1, 1) * y0 + m(1, 2));
            }
        }
        cv::Mat destination(size, size, CV_8UC1, out);
        cv::warpAffine(source, destination, cv::Mat(m), cv::Size(size, size), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
        if (destination.data != out) CV_Error(cv::Error::StsInternal, "warpAffine reallocated its output");
        return 0;
    });
}

int cvb_crop_centre(const uint8_t *pixels, int width, int height, int stride, int x0, int y0, int x1, int y1,
                    int pad_value, int resize, int size, uint8_t *out, cvb_status *status) {
    return guard_call<int>(status, -1, [&]() -> int {
        if (x1 <= x0 || y1 <= y0 || size <= 0 || size > resize) CV_Error(cv::Error::StsBadArg, "empty crop");
        cv::Mat image = borrow_gray(pixels, width, height, stride);
        cv::Mat region(y1 - y0, x1 - x0, CV_8UC1, cv::Scalar(pad_value));
        cv::Rect inside = cv::Rect(x0, y0, x1 - x0, y1 - y0) & cv::Rect(0, 0, width, height);
        if (inside.area() > 0) image(inside).copyTo(region(inside - cv::Point(x0, y0)));
        cv::Mat resized;
        cv::resize(region, resized, cv::Size(resize, resize), 0, 0, cv::INTER_LINEAR);
        int offset = (resize - size) / 2;
        cv::Mat destination(size, size, CV_8UC1, out);
        resized(cv::Rect(offset, offset, size, size)).copyTo(destination);
        if (destination.data != out) CV_Error(cv::Error::StsInternal, "copyTo reallocated its output");
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
