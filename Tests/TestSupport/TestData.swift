import Foundation

/// Locations of the shared real data and helpers that make scratch media for tests.
public enum TestData {
    /// The repository root (three levels above this file).
    public static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `../shared/data` beside the repository, or `$ER_SHARED_DATA`.
    public static let sharedData: URL = {
        if let path = ProcessInfo.processInfo.environment["ER_SHARED_DATA"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/data")
    }()

    /// Whether the shared data is present (tests that need it are skipped with this reason otherwise).
    public static var available: Bool {
        FileManager.default.fileExists(atPath: sharedData.appendingPathComponent("ravdess/av/Actor_01").path)
    }

    /// Why data-dependent tests skip.
    public static let missingReason = "needs the real data in ../shared/data (set ER_SHARED_DATA to move it)"

    /// The committed models folder.
    public static let models = repositoryRoot.appendingPathComponent("Models")

    /// Whether both trained models are committed.
    public static var modelsAvailable: Bool {
        ["ser.json", "ser.onnx", "fer.json", "fer.onnx"].allSatisfy {
            FileManager.default.fileExists(atPath: models.appendingPathComponent($0).path)
        }
    }

    /// The RAVDESS audio+video clips folder.
    public static var avClips: URL { sharedData.appendingPathComponent("ravdess/av/Actor_01") }

    /// A real clip with speech and a face (neutral, actor 1).
    public static var speakingClip: String { avClips.appendingPathComponent("01-01-01-01-01-01-01.mp4").path }

    /// A real audio-only FLAC take.
    public static var speechTake: String {
        sharedData.appendingPathComponent("ravdess/speech-16k/Actor_01/03-01-01-01-01-01-01.flac").path
    }

    /// A new empty scratch folder.
    public static func scratchFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("er-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Whether the ffmpeg command-line tool is on the PATH (used to make test media).
    public static var hasFFmpegTool: Bool { (try? run("ffmpeg", ["-version"])) == 0 }

    /// Whether python3 is on the PATH (used for a loopback HTTP server).
    public static var hasPython: Bool { (try? run("python3", ["--version"])) == 0 }

    /// Starts a loopback TCP server on `port` that accepts connections and never sends a byte (a stalled media
    /// server); returns once it listens. Kill it with SIGKILL when done.
    public static func startSilentServer(port: Int) throws -> Process {
        try startPythonServer("""
            import socket
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", \(port))); s.listen(8); print("ready", flush=True)
            conns = []
            for _ in range(60):
                c, _ = s.accept(); conns.append(c)
            """)
    }

    /// Starts a loopback HTTP server that answers every request for `file` with its full length but sends only the
    /// first `fraction` of its bytes, then holds the connection open: a source that stalls mid-transfer.
    /// Kill it with SIGKILL.
    public static func startStallingServer(port: Int, file: URL, fraction: Double) throws -> Process {
        try startPythonServer("""
            import socket, sys, threading, time
            data = open(sys.argv[1], "rb").read(); sent = int(len(data) * float(sys.argv[2]))
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", \(port))); s.listen(8); print("ready", flush=True)
            def serve(c):
                c.recv(65536)
                c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Type: video/mp4\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(data) + data[:sent])
                time.sleep(3600)
            while True:
                c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
            """, arguments: [file.path, String(fraction)])
    }

    /// Runs a python3 `script` that prints a line once it listens; returns when it has.
    private static func startPythonServer(_ script: String, arguments: [String] = []) throws -> Process {
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", "-c", script] + arguments
        let ready = Pipe()
        server.standardOutput = ready
        server.standardError = FileHandle.nullDevice
        try server.run()
        _ = ready.fileHandleForReading.availableData
        return server
    }

    /// Runs a program from the PATH, returning its exit status; output is discarded.
    @discardableResult
    public static func run(_ program: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Runs ffmpeg quietly, overwriting outputs; throws when it fails.
    public static func ffmpeg(_ arguments: [String]) throws {
        let status = try run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y"] + arguments)
        guard status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "ffmpeg failed: \(arguments)"]) }
    }

    /// The broken inputs every entry point must survive, made in `folder`: name → path.
    public static func brokenInputs(in folder: URL) throws -> [String: String] {
        var made: [String: String] = [:]
        let empty = folder.appendingPathComponent("empty.mp4")
        _ = FileManager.default.createFile(atPath: empty.path, contents: Data())
        made["zero_byte"] = empty.path

        // Fixed bytes: some random draws happen to look like an MP3 frame to FFmpeg's probe (then the file reads as
        // audio without video), so the draw is seeded.
        var generator = SplitMix64(seed: 20_261_206)
        let random = folder.appendingPathComponent("random bytes.mp4")
        _ = FileManager.default.createFile(atPath: random.path, contents: Data((0..<65_536).map { _ in UInt8.random(in: 0...255, using: &generator) }))
        made["random_bytes"] = random.path

        let original = try Data(contentsOf: URL(fileURLWithPath: speakingClip))
        let truncated = folder.appendingPathComponent("truncated.mp4")
        _ = FileManager.default.createFile(atPath: truncated.path, contents: original.prefix(original.count / 3))
        made["truncated"] = truncated.path

        made["missing"] = folder.appendingPathComponent("no such file.mp4").path
        made["audio_only"] = speechTake
        return made
    }
}

/// The local stack (`scripts/stack up`) and the built executables, for integration tests.
public enum TestStack {
    /// The broker URL tests use: `$ER_AMQP_URL` or the local stack's default.
    public static var amqpURL: String {
        ProcessInfo.processInfo.environment["ER_AMQP_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "amqp://er:er@127.0.0.1:5673/%2f"
    }

    /// The database URL tests use: `$ER_DATABASE_URL` or the local stack's default.
    public static var databaseURL: String {
        ProcessInfo.processInfo.environment["ER_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "postgresql://er:er@127.0.0.1:5433/emotions"
    }

    /// Whether both servers accept TCP connections.
    public static var available: Bool {
        reachable(url: amqpURL) && reachable(url: databaseURL)
    }

    public static let missingReason = "needs RabbitMQ and PostgreSQL from `scripts/stack up` (ER_AMQP_URL, ER_DATABASE_URL)"

    static func reachable(url: String) -> Bool {
        guard let components = URLComponents(string: url), let host = components.host, let port = components.port else { return false }
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1 else { return false }
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// A built executable (`swift build` puts them in `.build/debug`), or `nil`.
    public static func executable(_ name: String) -> URL? {
        for configuration in ["debug", "release"] {
            let url = TestData.repositoryRoot.appendingPathComponent(".build/\(configuration)/\(name)")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return nil
    }

    public static var executablesAvailable: Bool {
        ["er-coordinator", "er-audio-worker", "er-video-worker", "er-fusion"].allSatisfy { executable($0) != nil }
    }

    /// This process's environment with the stack's URLs and the committed models.
    static var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["ER_AMQP_URL"] = amqpURL
        environment["ER_DATABASE_URL"] = databaseURL
        environment["ER_MODELS_DIR"] = TestData.models.path
        return environment
    }

    /// Starts a built executable with the stack's URLs and the committed models; output goes to `log`.
    public static func start(_ name: String, _ arguments: [String], log: URL) throws -> Process {
        let process = Process()
        process.executableURL = try require(executable(name), "\(name) is not built")
        process.arguments = arguments
        process.environment = environment
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    /// Waits (up to `timeout` seconds) until each queue has at least the given number of consumers.
    public static func waitForConsumers(_ wanted: [String: Int], timeout: Double = 60) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let table = try run("er-coordinator", ["status", "--queues"]).output
            let consumers = Dictionary(table.split(separator: "\n").compactMap { line -> (String, Int)? in
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count == 3, let count = Int(fields[2]) else { return nil }
                return (String(fields[0]), count)
            }, uniquingKeysWith: { first, _ in first })
            if wanted.allSatisfy({ consumers[$0.key, default: 0] >= $0.value }) { return }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "consumers \(wanted) not all connected after \(timeout) s"])
    }

    /// Runs a built executable to completion; returns its exit status and standard output.
    public static func run(_ name: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = try require(executable(name), "\(name) is not built")
        process.arguments = arguments
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.standardError
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// `#require` without Testing in this support module: throws when the value is missing.
func require<Value>(_ value: Value?, _ message: String = "required value missing") throws -> Value {
    guard let value else { throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: message]) }
    return value
}

/// A seeded generator (SplitMix64), for test inputs that must be the same on every run.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
