// swift-tools-version:6.0
import PackageDescription

/// OpenCV's headers live outside the default search path on Debian (`libopencv-*-dev`).
let openCVInclude = "-I/usr/include/opencv4"

let package = Package(
    name: "EmotionRecognition",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "er-coordinator", targets: ["Coordinator"]),
        .executable(name: "er-audio-worker", targets: ["AudioWorker"]),
        .executable(name: "er-video-worker", targets: ["VideoWorker"]),
        .executable(name: "er-fusion", targets: ["Fusion"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
    ],
    targets: [
        // C libraries, each behind one Swift module.
        .systemLibrary(name: "CFFmpeg", path: "Sources/CFFmpeg", pkgConfig: "libavformat"),
        .systemLibrary(name: "CRabbitMQ", path: "Sources/CRabbitMQ", pkgConfig: "librabbitmq"),
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq"),
        .target(
            name: "CVBridge",
            cxxSettings: [.unsafeFlags([openCVInclude, "-O2"])],
            linkerSettings: [
                .linkedLibrary("opencv_core"), .linkedLibrary("opencv_imgproc"),
                .linkedLibrary("opencv_dnn"),
                .linkedLibrary("opencv_imgcodecs"), .linkedLibrary("stdc++"),
            ]
        ),

        // Swift wrappers and pure logic.
        .target(name: "Emotion"),
        .target(name: "Credentials"),
        .target(name: "Media", dependencies: ["CFFmpeg"]),
        .target(name: "Vision", dependencies: ["CVBridge"]),
        .target(name: "Messaging", dependencies: ["CRabbitMQ", "Credentials"]),
        .target(name: "Store", dependencies: ["CLibPQ", "Credentials", "Emotion"]),
        .target(
            name: "Analysis",
            dependencies: ["Emotion", "Media", "Vision", .product(name: "Logging", package: "swift-log")]
        ),
        // Metrics (swift-metrics with a Prometheus registry) and the /metrics, /healthz and /readyz endpoints.
        .target(
            name: "Observability",
            dependencies: [
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "FlyingFox", package: "FlyingFox"),
                .product(name: "FlyingSocks", package: "FlyingFox"),
            ]
        ),
        .target(
            name: "Pipeline",
            dependencies: ["Analysis", "Emotion", "Media", "Messaging", "Observability", "Store",
                           .product(name: "Logging", package: "swift-log"), .product(name: "CoreMetrics", package: "swift-metrics")]
        ),
        .target(
            name: "CommandSupport",
            dependencies: [
                "Analysis", "Emotion", "Media", "Messaging", "Observability", "Pipeline", "Store", "Vision",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Executables: thin shells over the modules above.
        .executableTarget(
            name: "Coordinator",
            dependencies: ["Store", "Pipeline", "CommandSupport", "Analysis", "Emotion", "Media", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "AudioWorker",
            dependencies: ["Pipeline", "CommandSupport", "Analysis", "Emotion", "Media", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "VideoWorker",
            dependencies: ["Pipeline", "CommandSupport", "Analysis", "Emotion", "Media", "Vision", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "Fusion",
            dependencies: ["CommandSupport", "Pipeline", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        // Paths to ../shared/data and scratch media for the tests.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "EmotionTests", dependencies: ["Emotion"]),
        .testTarget(name: "MediaTests", dependencies: ["Media", "TestSupport"]),
        .testTarget(name: "VisionTests", dependencies: ["Vision", "TestSupport"]),
        .testTarget(
            name: "AnalysisTests",
            dependencies: ["Analysis", "Emotion", "Media", "Vision", "TestSupport"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "MessagingTests", dependencies: ["Messaging", "Credentials", "TestSupport"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "Emotion", "TestSupport"]),
        .testTarget(name: "ObservabilityTests", dependencies: ["Observability", .product(name: "Prometheus", package: "swift-prometheus")]),
        .testTarget(
            name: "PipelineTests",
            dependencies: ["Pipeline", "Messaging", "Store", "Emotion", "Media", "TestSupport",
                           .product(name: "Logging", package: "swift-log")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
