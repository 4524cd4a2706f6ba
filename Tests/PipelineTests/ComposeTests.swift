import Foundation
import Testing
import TestSupport

// The docker compose deployment (compose/, docs/deployment.md), checked without a Docker engine: the compose
// files validate, every service's environment and command fit what the executables read and accept, the image is
// built and run on the build machine's Debian release, and documented commands use real subcommands and options.

/// The suites below, grouped so that `swift test --filter ComposeTests` runs them all.
@Suite struct ComposeTests {}

// MARK: - Compose files

extension ComposeTests {
    @Suite struct ComposeFiles {
        @Test func theComposeFilesParseAndHaveTheExpectedServices() throws {
            let main = try Deployment.compose("docker-compose.yml")
            #expect(main.services.keys.sorted() == ["audio-worker", "coordinator", "feeder", "fusion", "postgres", "prometheus", "rabbitmq",
                                                    "video-worker"])
            let workers = try Deployment.compose("workers.yml")
            #expect(workers.services.keys.sorted() == ["audio-worker", "video-worker"])
            let tls = try Deployment.compose("workers-tls.yml")
            #expect(tls.services.keys.sorted() == ["audio-worker", "video-worker"])
        }

        /// Prometheus scrapes every service that serves metrics.
        @Test func prometheusScrapesEveryService() throws {
            let main = try Deployment.compose("docker-compose.yml")
            let configuration = try Deployment.text(Deployment.composeFolder.appendingPathComponent("prometheus/prometheus.yml"))
            for (name, service) in main.services where try service.environment()["ER_METRICS_ADDRESS"] != nil {
                #expect(configuration.contains("- names: [\(name)]"), "prometheus.yml does not scrape \(name)")
            }
            #expect(configuration.contains("rabbitmq:15692"), "prometheus.yml does not scrape RabbitMQ's own metrics")
        }

        /// The Prometheus configuration and alert rules pass promtool: `check config`, `check rules`, and the rules'
        /// unit tests (`alerts-test.yml`: each alert fires on the series that should raise it, and only then).
        @Test(.enabled(if: (try? TestData.run("promtool", ["--version"])) == 0,
                       "needs promtool (Debian's prometheus package; scripts/bootstrap installs it)"))
        func prometheusConfigurationAndAlertRulesPassPromtool() throws {
            let folder = Deployment.composeFolder.appendingPathComponent("prometheus").path
            #expect(try TestData.run("promtool", ["check", "config", "\(folder)/prometheus.yml"]) == 0)
            #expect(try TestData.run("promtool", ["check", "rules", "\(folder)/alerts.yml"]) == 0)
            #expect(try TestData.run("promtool", ["test", "rules", "\(folder)/alerts-test.yml"]) == 0)
        }

        @Test func everyERVariableIsOneTheExecutablesRead() throws {
            let known = try Deployment.variablesTheCodeReads()
            #expect(known.isSuperset(of: ["ER_AMQP_URL", "ER_DATABASE_URL", "ER_MODELS_DIR"]), "found in Sources: \(known.sorted())")

            // Service environments: our services set nothing but ER_* variables the code reads.
            for file in Deployment.composeFiles {
                for service in try Deployment.compose(file).services.values {
                    for name in try service.environment().keys where name.hasPrefix("ER_") || service.isOurs {
                        #expect(known.contains(name), "\(file): service \(service.name) sets \(name), which no executable reads (they read \(known.sorted()))")
                    }
                }
            }
            // Any ER_* name written anywhere in the deployment files (interpolations, comments, docs) is a real one.
            for (source, text) in try Deployment.deploymentTexts() {
                for name in Deployment.matches(of: #"\bER_[A-Z0-9_]+\b"#, in: text) {
                    #expect(known.contains(name), "\(source) mentions \(name), which no executable reads (they read \(known.sorted()))")
                }
            }
        }

        @Test func everyServiceGetsTheVariablesItNeedsAndNoBakedInPassword() throws {
            let image = try Deployment.dockerfile()
            for file in ["docker-compose.yml", "workers.yml"] {
                let compose = try Deployment.compose(file)
                let ours = compose.services.values.filter(\.isOurs)
                #expect(!ours.isEmpty, "\(file) runs none of the executables")
                for service in ours {
                    let environment = try service.environment()
                    let executable = try #require(try service.invocation()?.executable, "\(file): \(service.name) has no command")
                    for name in Deployment.requiredVariables[executable] ?? [] {
                        let inImage = image.runtimeEnvironment[name] != nil
                        #expect(environment[name] != nil || inImage, "\(file): \(service.name) (\(executable)) needs \(name)")
                    }
                    if executable.hasSuffix("-worker") {
                        #expect(environment["ER_DATABASE_URL"] == nil, "\(file): \(service.name) never opens the database; keep its password off worker hosts")
                    }
                    for name in ["ER_AMQP_URL", "ER_DATABASE_URL"] {
                        guard let value = environment[name] else { continue }
                        // Credentials come from .env or the environment: the committed file holds only references.
                        #expect(value.contains("${"), "\(file): \(service.name) \(name) must come from variables, not a literal URL")
                        if file == "docker-compose.yml", let host = Deployment.matches(of: #"@([A-Za-z0-9.-]+)[:/]"#, in: value, group: 1).first {
                            #expect(compose.services[host] != nil, "\(file): \(service.name) \(name) points at \(host), which is not a service")
                        }
                    }
                }
            }
            // The servers' passwords must be supplied (`${VAR:?message}`), never defaulted.
            let main = try Deployment.compose("docker-compose.yml")
            let passwords = [("rabbitmq", "RABBITMQ_DEFAULT_PASS"), ("postgres", "POSTGRES_PASSWORD")]
            for (serviceName, variable) in passwords {
                let value = try #require(try main.services[serviceName]?.environment()[variable], "\(serviceName) has no \(variable)")
                #expect(value.hasPrefix("${") && value.contains(":?"), "\(serviceName) \(variable) must be a required variable, got \(value)")
            }
        }

        @Test func serversAreHealthcheckedAndEverythingWaitsForThem() throws {
            let main = try Deployment.compose("docker-compose.yml")
            for server in ["rabbitmq", "postgres"] {
                let test = main.services[server]?.node["healthcheck"]?["test"]?.strings ?? []
                #expect(!test.isEmpty, "\(server) needs a healthcheck")
            }
            let rabbit = try #require(main.services["rabbitmq"]?.node["image"]?.string)
            #expect(rabbit.hasPrefix("rabbitmq:3.10") && rabbit.contains("management"), "the broker is RabbitMQ 3.10 with the management UI, got \(rabbit)")
            let postgres = try #require(main.services["postgres"]?.node["image"]?.string)
            #expect(postgres.hasPrefix("postgres:15"), "the database is PostgreSQL 15, got \(postgres)")
            #expect(main.services["postgres"]?.node["volumes"]?.strings?.contains { $0.hasSuffix(":/var/lib/postgresql/data") } == true,
                    "PostgreSQL keeps its data in a volume")

            let needs: [String: [String]] = [
                "audio-worker": ["rabbitmq"], "video-worker": ["rabbitmq"],
                "fusion": ["rabbitmq", "postgres"], "coordinator": ["rabbitmq", "postgres"], "feeder": ["rabbitmq", "postgres"],
            ]
            for (service, servers) in needs {
                let dependsOn = main.services[service]?.node["depends_on"]
                for server in servers {
                    #expect(dependsOn?[server]?["condition"]?.string == "service_healthy",
                            "\(service) must wait for \(server) to be healthy (depends_on: \(server): condition: service_healthy)")
                }
            }
            // The Coordinator runs on demand (`docker compose run coordinator ...`), not with `up`.
            #expect(main.services["coordinator"]?.node["profiles"]?.strings?.isEmpty == false, "coordinator needs a profile so that `up` skips it")
        }

        @Test func workersScaleReadTheArchiveReadOnlyAndUseTheImage() throws {
            for file in ["docker-compose.yml", "workers.yml"] {
                let compose = try Deployment.compose(file)
                for service in compose.services.values where service.isOurs {
                    let build = service.node["build"]
                    #expect(build?["dockerfile"]?.string == "compose/Dockerfile" && build?["context"]?.string == "..",
                            "\(file): \(service.name) builds compose/Dockerfile with the repository root as context")
                    #expect(service.node["image"]?.string == compose.services.values.first(where: \.isOurs)?.node["image"]?.string,
                            "\(file): every executable runs from the one image")
                }
                for name in ["audio-worker", "video-worker"] {
                    let service = try #require(compose.services[name], "\(file) has no \(name)")
                    // `--scale` needs services without a fixed container name or host port.
                    #expect(service.node["container_name"] == nil && service.node["ports"] == nil, "\(file): \(name) must stay scalable")
                    let volumes = service.node["volumes"]?.strings ?? []
                    #expect(volumes.contains { $0.hasPrefix("${MEDIA_DIR") && $0.hasSuffix(":/media:ro") }, "\(file): \(name) mounts MEDIA_DIR read-only at /media")
                    let arguments = try #require(try service.invocation()?.arguments)
                    let root = arguments.firstIndex(of: "--media-root").map { arguments.index(after: $0) }.flatMap { $0 < arguments.count ? arguments[$0] : nil }
                    #expect(root == "/media", "\(file): \(name) must be started with --media-root /media")
                }
            }
        }

        @Test func theCommandReaderFindsSubcommandsAndOptions() {
            let entrypoints = ["coordinator": "er-coordinator"]
            let found = Deployment.commands(in: "docker compose run --rm -T coordinator export b --format csv > b.csv", entrypoints: entrypoints)
            #expect(found.map(\.executable) == ["er-coordinator"] && found.first?.arguments == ["export", "b", "--format", "csv"])
            let prose = Deployment.commands(in: "# er-fusion run: stores results --scale", entrypoints: entrypoints)
            #expect(prose.count == 1 && prose.first?.checkOptions == false)
            let yaml = Deployment.commands(in: #"command: ["er-video-worker", "run", "--fps", "2"]"#, entrypoints: entrypoints)
            #expect(yaml.first?.arguments == ["run", "--fps", "2"])
            #expect(Deployment.commands(in: "the er-coordinator, run on demand", entrypoints: entrypoints).first?.arguments.isEmpty == true)
        }

        @Test(.enabled(if: TestStack.executablesAvailable, "needs the built executables (swift build)"))
        func everyServiceCommandIsARealSubcommandWithRealOptions() throws {
            var checked = 0
            for file in Deployment.composeFiles {
                for service in try Deployment.compose(file).services.values where service.isOurs {
                    guard let invocation = try service.invocation() else { continue }
                    let problems = try Help.shared.problems(executable: invocation.executable, arguments: invocation.arguments, checkOptions: true)
                    #expect(problems.isEmpty, "\(file): \(service.name): \(problems.joined(separator: "; "))")
                    checked += 1
                }
            }
            #expect(checked >= 6)
        }
    }

}

// MARK: - docker-compose config

extension ComposeTests {
    @Suite(.enabled(if: Deployment.hasDockerCompose, "docker-compose is not installed (Debian package docker-compose; scripts/bootstrap should install it)"))
    struct DockerComposeConfig {
        @Test(arguments: [["docker-compose.yml"], ["workers.yml"], ["workers.yml", "workers-tls.yml"]])
        func dockerComposeAcceptsTheFilesWithTheExampleSettings(files: [String]) throws {
            let run = try Deployment.dockerCompose(files, ["config", "-q"], envFile: Deployment.composeFolder.appendingPathComponent(".env.example").path,
                                                   environment: ["AMQP_CA_FILE": Deployment.composeFolder.appendingPathComponent("Dockerfile").path])
            #expect(run.status == 0, "docker-compose config \(files): \(run.output)")
        }

        @Test(arguments: ["docker-compose.yml", "workers.yml"])
        func dockerComposeSeesTheServicesThisTestReads(file: String) throws {
            let run = try Deployment.dockerCompose([file], ["config", "--services"], envFile: Deployment.composeFolder.appendingPathComponent(".env.example").path)
            try #require(run.status == 0, "docker-compose config --services: \(run.output)")
            let services = run.output.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.contains(" ") }
            #expect(Set(services) == Set(try Deployment.compose(file).services.keys))
        }

        @Test func dockerComposeRefusesToStartWithoutPasswords() throws {
            let folder = try TestData.scratchFolder()
            defer { try? FileManager.default.removeItem(at: folder) }
            let empty = folder.appendingPathComponent("empty.env")
            _ = FileManager.default.createFile(atPath: empty.path, contents: Data())

            var environment = ["MEDIA_DIR": folder.path]
            let noPasswords = try Deployment.dockerCompose(["docker-compose.yml"], ["config", "-q"], envFile: empty.path, environment: environment)
            #expect(noPasswords.status != 0 && noPasswords.output.contains("PASSWORD"), "config without passwords: \(noPasswords.output)")

            environment["RABBITMQ_PASSWORD"] = "secret"
            let noDatabasePassword = try Deployment.dockerCompose(["docker-compose.yml"], ["config", "-q"], envFile: empty.path, environment: environment)
            #expect(noDatabasePassword.status != 0 && noDatabasePassword.output.contains("POSTGRES_PASSWORD"), "config without POSTGRES_PASSWORD: \(noDatabasePassword.output)")

            environment["POSTGRES_PASSWORD"] = "secret"
            let workersWithoutBroker = try Deployment.dockerCompose(["workers.yml"], ["config", "-q"], envFile: empty.path, environment: environment)
            #expect(workersWithoutBroker.status != 0 && workersWithoutBroker.output.contains("ER_AMQP_URL"), "workers.yml without ER_AMQP_URL: \(workersWithoutBroker.output)")

            let complete = try Deployment.dockerCompose(["docker-compose.yml"], ["config", "-q"], envFile: empty.path, environment: environment)
            #expect(complete.status == 0, "config with passwords and MEDIA_DIR: \(complete.output)")
        }
    }

}

// MARK: - Dockerfile

extension ComposeTests {
    @Suite struct Image {
        @Test func everyBaseImageIsTheBuildMachinesDebianRelease() throws {
            let codename = try #require(Deployment.buildMachineCodename(), "no VERSION_CODENAME in /etc/os-release")
            let image = try Deployment.dockerfile()
            #expect(image.baseImages.count >= 2, "a multi-stage build: \(image.baseImages)")
            for base in image.baseImages {
                let tag = base.split(separator: ":", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
                #expect(tag.contains(codename), "FROM \(base) is not \(codename) (the build machine's Debian release)")
            }
            #expect(image.baseImages.first?.hasPrefix("swift:") == true, "the build stage is the Swift toolchain image")
            #expect(image.baseImages.last == "debian:\(codename)-slim", "the runtime stage is debian:\(codename)-slim")

            // The build image's Swift is the one CI builds with (major.minor).
            if let local = Deployment.localSwiftVersion() {
                #expect(image.baseImages.first?.hasPrefix("swift:\(local)-") == true, "FROM \(image.baseImages.first ?? "?") but this machine builds with Swift \(local)")
            }
            // The compose file's own Debian-based server image follows the same release.
            let postgres = try Deployment.compose("docker-compose.yml").services["postgres"]?.node["image"]?.string ?? ""
            #expect(postgres.contains(codename), "postgres image \(postgres) is not \(codename)")
        }

        @Test func theImageInstallsWhatTheBuildLinksAndRunsUnprivileged() throws {
            let image = try Deployment.dockerfile()
            let build = Set(image.stages.first?.aptPackages ?? [])
            let runtime = Set(image.stages.last?.aptPackages ?? [])

            // The build stage has the bootstrap's build packages.
            let bootstrap = try Deployment.bootstrapBuildPackages()
            #expect(!bootstrap.isEmpty)
            let missing = bootstrap.subtracting(build)
            #expect(missing.isEmpty, "the build stage lacks \(missing.sorted()) from scripts/bootstrap")
            #expect(runtime.allSatisfy { !$0.hasSuffix("-dev") }, "no -dev packages at run time: \(runtime.sorted())")

            // Each -dev package's shared library (its Debian dependency named like it, with the soname version) is
            // installed at run time, as this machine's Debian release names it.
            for dev in build.filter({ $0.hasPrefix("lib") && $0.hasSuffix("-dev") }).sorted() {
                guard let library = Deployment.runtimeLibrary(ofDevPackage: dev) else { continue }
                #expect(runtime.contains(library), "\(dev) links \(library), which the runtime stage does not install")
            }

            #expect(image.flags.contains("--static-swift-stdlib"), "the executables carry the Swift runtime (--static-swift-stdlib)")
            for executable in Deployment.executables {
                #expect(image.text.contains(executable), "the image must hold \(executable)")
            }
            let models = try #require(image.runtimeEnvironment["ER_MODELS_DIR"], "the image sets ER_MODELS_DIR")
            #expect(image.stages.last?.copies.contains { $0.source == "Models/" && $0.destination.trimmingSuffix("/") == models.trimmingSuffix("/") } == true,
                    "the models are copied to ER_MODELS_DIR (\(models))")
            let user = try #require(image.stages.last?.user, "the runtime stage sets USER")
            #expect(!["root", "0", "0:0"].contains(user), "the image runs as a non-root user, got \(user)")
        }
    }

}

// MARK: - Documented commands

extension ComposeTests {
    @Suite(.enabled(if: TestStack.executablesAvailable, "needs the built executables (swift build)"))
    struct DocumentedCommands {
        @Test func documentedCommandsUseRealSubcommandsAndOptions() throws {
            let entrypoints = try Deployment.compose("docker-compose.yml").services.values.reduce(into: [String: String]()) { result, service in
                if let first = service.node["entrypoint"]?.strings?.first { result[service.name] = first }
            }
            var checked = 0
            for (source, text) in try Deployment.commandTexts() {
                for command in Deployment.commands(in: text, entrypoints: entrypoints) {
                    let problems = try Help.shared.problems(executable: command.executable, arguments: command.arguments, checkOptions: command.checkOptions)
                    #expect(problems.isEmpty, "\(source): `\(command.text)`: \(problems.joined(separator: "; "))")
                    checked += 1
                }
            }
            #expect(checked >= 10, "found only \(checked) er-* commands in the deployment docs")
        }
    }

}

// MARK: - Support

/// The deployment files and facts about the code and the build machine.
private enum Deployment {
    static let root = TestData.repositoryRoot
    static let composeFolder = root.appendingPathComponent("compose")
    static let composeFiles = ["docker-compose.yml", "workers.yml", "workers-tls.yml"]
    static let executables = ["er-coordinator", "er-audio-worker", "er-video-worker", "er-fusion"]

    /// What each executable needs from its environment (ER_MODELS_DIR may come from the image).
    static let requiredVariables: [String: [String]] = [
        "er-audio-worker": ["ER_AMQP_URL", "ER_MODELS_DIR"],
        "er-video-worker": ["ER_AMQP_URL", "ER_MODELS_DIR"],
        "er-fusion": ["ER_AMQP_URL", "ER_DATABASE_URL"],
        "er-coordinator": ["ER_AMQP_URL", "ER_DATABASE_URL", "ER_MODELS_DIR"],
    ]

    static func text(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }

    static func compose(_ file: String) throws -> ComposeFile {
        try ComposeFile(name: file, root: YAMLReader.parse(text(composeFolder.appendingPathComponent(file)), source: file))
    }

    static func dockerfile() throws -> Dockerfile {
        try Dockerfile(text(composeFolder.appendingPathComponent("Dockerfile")))
    }

    /// The `ER_*` string literals in the Swift sources: the variables the executables read.
    static func variablesTheCodeReads() throws -> Set<String> {
        let sources = root.appendingPathComponent("Sources")
        var names = Set<String>()
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
        while let url = files?.nextObject() as? URL {
            guard url.pathExtension == "swift" else { continue }
            names.formUnion(matches(of: #""(ER_[A-Z0-9_]+)""#, in: try text(url), group: 1))
        }
        return names
    }

    /// Every deployment file's text (compose files, settings, Dockerfile, the docs and the README's section).
    static func deploymentTexts() throws -> [(String, String)] {
        var texts = try (composeFiles + [".env.example", "Dockerfile"]).map { ("compose/\($0)", try text(composeFolder.appendingPathComponent($0))) }
        texts.append(("docs/deployment.md", try text(root.appendingPathComponent("docs/deployment.md"))))
        texts.append(("README.md (deployment section)", try readmeDeploymentSection()))
        return texts
    }

    /// The README's "Deployment with docker compose" section.
    static func readmeDeploymentSection() throws -> String {
        let lines = try text(root.appendingPathComponent("README.md")).components(separatedBy: "\n")
        guard let start = lines.firstIndex(where: { $0.hasPrefix("## ") && $0.contains("Deployment with docker compose") }) else { return "" }
        let end = lines[(start + 1)...].firstIndex(where: { $0.hasPrefix("## ") }) ?? lines.endIndex
        return lines[start..<end].joined(separator: "\n")
    }

    /// Where commands are written: code in the docs and the README section, comments in the compose files.
    static func commandTexts() throws -> [(String, String)] {
        var texts: [(String, String)] = []
        for (source, content) in try deploymentTexts() {
            if source.hasSuffix(".md") || source.hasPrefix("README") {
                texts += markdownCode(content).map { (source, $0) }
            } else {
                texts += content.components(separatedBy: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { $0.hasPrefix("#") }.map { (source, $0) }
            }
        }
        return texts
    }

    /// Fenced code lines (continuations joined) and inline code spans of a Markdown text.
    static func markdownCode(_ markdown: String) -> [String] {
        var code: [String] = []
        var fenced = false
        var pending = ""
        for line in markdown.components(separatedBy: "\n") {
            if line.trimmingCharacters(in: .whitespaces).hasPrefix("```") {
                fenced.toggle()
                continue
            }
            if fenced {
                if line.hasSuffix("\\") {
                    pending += line.dropLast() + " "
                } else {
                    code.append(pending + line)
                    pending = ""
                }
            } else {
                code += matches(of: "`([^`]+)`", in: line, group: 1)
            }
        }
        return code
    }

    struct Command {
        var text: String
        var executable: String
        var arguments: [String]
        /// False for prose (`er-fusion run: stores ...`): only the subcommand is checked.
        var checkOptions: Bool
    }

    /// The `er-*` invocations in a line: `er-NAME [subcommand [options]]`, or `compose run [flags] SERVICE
    /// [subcommand ...]` for a service whose entrypoint is an executable.
    static func commands(in line: String, entrypoints: [String: String]) -> [Command] {
        var text = line
        if text.contains(#"["er-"#) {
            text = String(text.map { "[],\"".contains($0) ? " " : $0 })
        }
        var found: [Command] = []
        let segments = text.components(separatedBy: CharacterSet(charactersIn: "|;>")).flatMap { $0.components(separatedBy: "&&") }
        for segment in segments {
            for range in ranges(of: #"(?<![A-Za-z0-9_./-])er-(coordinator|audio-worker|video-worker|fusion)(?![A-Za-z0-9_-])"#, in: segment) {
                let executable = String(segment[range])
                found.append(command(executable: executable, rest: segment[range.upperBound...], segment: segment))
            }
            let tokens = segment.split(whereSeparator: \.isWhitespace).map(String.init)
            if let compose = tokens.firstIndex(where: { $0 == "compose" || $0 == "docker-compose" }),
               let run = tokens[compose...].firstIndex(of: "run") {
                var index = run + 1
                let valued: Set<String> = ["-e", "--env", "-v", "--volume", "-w", "--workdir", "-u", "--user", "--name", "-p", "--publish", "-l", "--label", "--entrypoint"]
                while index < tokens.count, tokens[index].hasPrefix("-") {
                    index += valued.contains(tokens[index]) ? 2 : 1
                }
                if index < tokens.count, let executable = entrypoints[tokens[index]] {
                    let rest = tokens[(index + 1)...].joined(separator: " ")
                    found.append(command(executable: executable, rest: Substring(" " + rest), segment: segment))
                }
            }
        }
        return found
    }

    private static func command(executable: String, rest: Substring, segment: String) -> Command {
        let text = segment.trimmingCharacters(in: .whitespaces)
        guard rest.first?.isWhitespace == true else {
            return Command(text: text, executable: executable, arguments: [], checkOptions: false)
        }
        let tokens = rest.split(whereSeparator: \.isWhitespace).map(String.init)
        guard let first = tokens.first else { return Command(text: text, executable: executable, arguments: [], checkOptions: false) }
        if first.hasPrefix("-") {
            return Command(text: text, executable: executable, arguments: [first], checkOptions: true)
        }
        if first.range(of: #"^[a-z][a-z0-9-]*$"#, options: .regularExpression) != nil {
            return Command(text: text, executable: executable, arguments: tokens, checkOptions: true)
        }
        if let word = first.range(of: #"^[a-z][a-z0-9-]*(?=[:.,;)])"#, options: .regularExpression) {
            return Command(text: text, executable: executable, arguments: [String(first[word])], checkOptions: false)
        }
        return Command(text: text, executable: executable, arguments: [], checkOptions: false)
    }

    static func ranges(of pattern: String, in text: String) -> [Range<String.Index>] {
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return [] }
        return expression.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { Range($0.range, in: text) }
    }

    static func matches(of pattern: String, in text: String, group: Int = 0) -> [String] {
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return [] }
        return expression.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
            Range($0.range(at: group), in: text).map { String(text[$0]) }
        }
    }

    /// `build_pkgs=( ... )` of scripts/bootstrap.
    static func bootstrapBuildPackages() throws -> Set<String> {
        let script = try text(root.appendingPathComponent("scripts/bootstrap"))
        guard let start = script.range(of: "build_pkgs=("), let end = script[start.upperBound...].firstIndex(of: ")") else { return [] }
        let body = script[start.upperBound..<end].split(separator: "\n").map { $0.split(separator: "#").first ?? "" }.joined(separator: " ")
        return Set(body.split(whereSeparator: \.isWhitespace).map(String.init))
    }

    /// The shared-library package a `-dev` package depends on (`libavformat-dev` → `libavformat59`), from dpkg;
    /// `nil` when the package is not installed here.
    static func runtimeLibrary(ofDevPackage dev: String) -> String? {
        guard let run = try? runTool("dpkg-query", ["-W", "-f", "${Depends}", dev]), run.status == 0 else { return nil }
        let stem = NSRegularExpression.escapedPattern(for: String(dev.dropLast("-dev".count)))
        return matches(of: #"(?:^|[,|]\s*)("# + stem + #"[0-9][a-z0-9.+-]*?)(?=\s|,|:|$)"#, in: run.output, group: 1).first
    }

    static func buildMachineCodename() -> String? {
        guard let release = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8) else { return nil }
        return matches(of: #"(?m)^VERSION_CODENAME="?([a-z]+)"?$"#, in: release, group: 1).first
    }

    /// `major.minor` of the `swift` on the PATH (or in /opt/swift), if any.
    static func localSwiftVersion() -> String? {
        for program in ["swift", "/opt/swift/usr/bin/swift"] {
            if let run = try? runTool(program, ["--version"]), run.status == 0,
               let version = matches(of: #"Swift version ([0-9]+\.[0-9]+)"#, in: run.output, group: 1).first {
                return version
            }
        }
        return nil
    }

    static var hasDockerCompose: Bool { (try? runTool("docker-compose", ["version"]))?.status == 0 }

    /// Runs docker-compose on files in compose/ with only `environment` (plus PATH and a scratch HOME) set.
    static func dockerCompose(_ files: [String], _ arguments: [String], envFile: String, environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let home = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: home) }
        var variables = environment
        variables["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        variables["HOME"] = home.path
        let fileArguments = files.flatMap { ["-f", composeFolder.appendingPathComponent($0).path] }
        return try runTool("docker-compose", ["--env-file", envFile] + fileArguments + arguments, environment: variables)
    }

    /// Runs a program from the PATH; returns its exit status and its standard output and error together.
    static func runTool(_ program: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        if let environment { process.environment = environment }
        process.currentDirectoryURL = root
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// The executables' `--help`: subcommands and the options each accepts.
private final class Help: @unchecked Sendable {
    static let shared = Help()
    private let lock = NSLock()
    private var pages: [[String]: String] = [:]

    func page(_ executable: String, _ arguments: [String]) throws -> String {
        let key = [executable] + arguments
        if let page = lock.withLock({ pages[key] }) { return page }
        let run = try TestStack.run(executable, arguments + ["--help"])
        guard run.status == 0 else { throw HelpError(message: "\(key.joined(separator: " ")) --help exited \(run.status)") }
        lock.withLock { pages[key] = run.output }
        return run.output
    }

    /// The names under SUBCOMMANDS.
    func subcommands(_ executable: String) throws -> [String] {
        var names: [String] = []
        var inSection = false
        for line in try page(executable, []).components(separatedBy: "\n") {
            if line.hasPrefix("SUBCOMMANDS:") { inSection = true; continue }
            guard inSection else { continue }
            if !line.isEmpty, !line.hasPrefix(" ") { break }
            if let name = Deployment.matches(of: #"^  ([a-z][a-z0-9-]*)(?:\s|$)"#, in: line, group: 1).first { names.append(name) }
        }
        return names
    }

    /// The `--options` a help page lists.
    func options(_ executable: String, _ arguments: [String]) throws -> Set<String> {
        Set(Deployment.matches(of: #"(?<![A-Za-z0-9-])--[a-z][a-z0-9-]*"#, in: try page(executable, arguments)))
    }

    /// What is wrong with `executable arguments…`: an unknown subcommand or option.
    func problems(executable: String, arguments: [String], checkOptions: Bool) throws -> [String] {
        guard Deployment.executables.contains(executable) else { return ["\(executable) is not one of \(Deployment.executables)"] }
        guard let first = arguments.first else { return [] }
        if first.hasPrefix("-") {
            let option = String(first.split(separator: "=").first ?? "")
            return try options(executable, []).contains(option) || option == "-h" ? [] : ["\(executable) has no option \(option)"]
        }
        let subcommands = try subcommands(executable)
        guard subcommands.contains(first) else { return ["\(executable) has no subcommand '\(first)' (it has \(subcommands.joined(separator: ", ")))"] }
        guard checkOptions else { return [] }
        let known = try options(executable, [first])
        return arguments.dropFirst().filter { $0.hasPrefix("--") }.map { String($0.split(separator: "=").first ?? "") }
            .filter { !known.contains($0) }.map { "\(executable) \(first) has no option \($0)" }
    }
}

private struct HelpError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

// MARK: - Compose model

private struct ComposeFile {
    var name: String
    var services: [String: ComposeService]

    init(name: String, root: YAMLNode) throws {
        self.name = name
        guard case .map(let services)? = root["services"] else { throw YAMLError(source: name, line: 0, message: "no services") }
        self.services = services.reduce(into: [:]) { $0[$1.key] = ComposeService(name: $1.key, node: $1.value) }
    }
}

private struct ComposeService {
    var name: String
    var node: YAMLNode

    /// Runs one of the executables (the image built from compose/Dockerfile).
    var isOurs: Bool {
        node["build"] != nil || (node["image"]?.string ?? "").contains("${IMAGE")
            || ((try? invocation())?.executable).map(Deployment.executables.contains) == true
    }

    /// `environment` as a map (`KEY: value` or `- KEY=value`).
    func environment() throws -> [String: String] {
        switch node["environment"] {
        case nil: return [:]
        case .map(let entries)?: return entries.mapValues { $0.string ?? "" }
        case .list(let items)?:
            return items.compactMap(\.string).reduce(into: [:]) { result, item in
                let parts = item.split(separator: "=", maxSplits: 1)
                result[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
        default: throw YAMLError(source: name, line: 0, message: "environment is neither a map nor a list")
        }
    }

    /// The program and its arguments: `entrypoint` + `command`, or `command` alone.
    func invocation() throws -> (executable: String, arguments: [String])? {
        let entrypoint = node["entrypoint"]?.strings ?? []
        let command = node["command"]?.strings ?? []
        let all = entrypoint + command
        guard let executable = all.first else { return nil }
        return (executable, Array(all.dropFirst()))
    }
}

// MARK: - Dockerfile model

private struct Dockerfile {
    struct Copy { var source: String; var destination: String }
    struct Stage {
        var image: String
        /// `FROM <earlier stage>`: not a base image.
        var isStageReference = false
        var aptPackages: [String] = []
        var copies: [Copy] = []
        var environment: [String: String] = [:]
        var user: String?
    }

    var text: String
    var stages: [Stage] = []
    /// Every `--flag` written in RUN instructions.
    var flags: Set<String> = []

    /// The base images (ARG defaults substituted), skipping `FROM <earlier stage>`.
    var baseImages: [String] { stages.filter { !$0.isStageReference }.map(\.image) }
    /// ENV of the final stage.
    var runtimeEnvironment: [String: String] { stages.last?.environment ?? [:] }

    init(_ text: String) throws {
        self.text = text
        var arguments: [String: String] = [:]
        var stageNames: Set<String> = []
        var instructions: [String] = []
        var pending = ""
        for raw in text.components(separatedBy: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") || (line.isEmpty && pending.isEmpty) { continue }
            if line.hasSuffix("\\") {
                pending += line.dropLast() + " "
            } else {
                instructions.append(pending + line)
                pending = ""
            }
        }
        for instruction in instructions where !instruction.isEmpty {
            let parts = instruction.split(separator: " ", maxSplits: 1).map(String.init)
            let keyword = parts[0].uppercased()
            let rest = parts.count > 1 ? parts[1] : ""
            let words = rest.split(whereSeparator: \.isWhitespace).map(String.init)
            switch keyword {
            case "ARG" where stages.isEmpty:
                let pair = rest.split(separator: "=", maxSplits: 1).map(String.init)
                if pair.count == 2 { arguments[pair[0]] = pair[1] }
            case "FROM":
                let image = words.first { !$0.hasPrefix("--") } ?? ""
                var expanded = image
                for (name, value) in arguments {
                    expanded = expanded.replacingOccurrences(of: "${\(name)}", with: value).replacingOccurrences(of: "$\(name)", with: value)
                }
                let isStageReference = stageNames.contains(expanded)
                if let alias = words.firstIndex(where: { $0.uppercased() == "AS" }), alias + 1 < words.count {
                    stageNames.insert(words[alias + 1])
                }
                stages.append(Stage(image: expanded, isStageReference: isStageReference))
            case "RUN" where !stages.isEmpty:
                flags.formUnion(words.filter { $0.hasPrefix("--") })
                // The packages of `apt-get [options] install [options] PACKAGE...`, up to the next `&&`.
                for (position, word) in words.enumerated() where word == "install" {
                    guard let program = words[..<position].last(where: { !$0.hasPrefix("-") }), ["apt-get", "apt"].contains(program) else { continue }
                    let after = words[(position + 1)...]
                    let end = after.firstIndex(of: "&&") ?? after.endIndex
                    stages[stages.count - 1].aptPackages += after[..<end].filter { !$0.hasPrefix("-") && $0.first?.isLetter == true }
                }
            case "COPY" where !stages.isEmpty:
                let paths = words.filter { !$0.hasPrefix("--") }
                if paths.count >= 2, !words.contains(where: { $0.hasPrefix("--from") }) {
                    for source in paths.dropLast() {
                        stages[stages.count - 1].copies.append(Copy(source: source, destination: paths.last!))
                    }
                }
            case "ENV" where !stages.isEmpty:
                for word in words {
                    let pair = word.split(separator: "=", maxSplits: 1).map(String.init)
                    if pair.count == 2 { stages[stages.count - 1].environment[pair[0]] = pair[1] }
                }
            case "USER" where !stages.isEmpty:
                stages[stages.count - 1].user = words.first
            default:
                break
            }
        }
    }
}

private extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}

// MARK: - A small YAML reader

/// A YAML value: the subset compose files here are written in.
private indirect enum YAMLNode {
    case scalar(String)
    case list([YAMLNode])
    case map([String: YAMLNode])

    subscript(key: String) -> YAMLNode? {
        if case .map(let entries) = self { return entries[key] }
        return nil
    }

    var string: String? {
        if case .scalar(let value) = self { return value }
        return nil
    }

    /// A list of scalars, or a scalar split at spaces (compose's string form of `command`).
    var strings: [String]? {
        switch self {
        case .list(let items): return items.compactMap(\.string)
        case .scalar(let value): return value.split(whereSeparator: \.isWhitespace).map(String.init)
        case .map: return nil
        }
    }
}

private struct YAMLError: Error, CustomStringConvertible {
    var source: String
    var line: Int
    var message: String
    var description: String { "\(source):\(line): \(message)" }
}

/// Reads block mappings and sequences, flow sequences of scalars, plain and quoted scalars and comments; anything
/// else (anchors, block scalars, flow mappings, mappings inside sequences) is an error, so keep the compose files
/// to that subset or extend this reader.
private struct YAMLReader {
    struct Line { var number: Int; var indent: Int; var text: String }

    private var lines: [Line] = []
    private var index = 0
    private let source: String

    static func parse(_ text: String, source: String) throws -> YAMLNode {
        var reader = try YAMLReader(text, source: source)
        guard !reader.lines.isEmpty else { return .map([:]) }
        let node = try reader.block(indent: reader.lines[0].indent)
        if reader.index < reader.lines.count { throw reader.error(reader.lines[reader.index], "unexpected indentation") }
        return node
    }

    private init(_ text: String, source: String) throws {
        self.source = source
        for (offset, raw) in text.components(separatedBy: "\n").enumerated() {
            let content = Self.removingComment(raw)
            let trimmed = content.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { continue }
            guard !raw.contains("\t") else { throw YAMLError(source: source, line: offset + 1, message: "tabs are not supported") }
            let indent = content.prefix { $0 == " " }.count
            lines.append(Line(number: offset + 1, indent: indent, text: trimmed))
        }
    }

    private func error(_ line: Line, _ message: String) -> YAMLError {
        YAMLError(source: source, line: line.number, message: "\(message): \(line.text)")
    }

    private static func isItem(_ text: String) -> Bool { text == "-" || text.hasPrefix("- ") }

    private mutating func block(indent: Int) throws -> YAMLNode {
        Self.isItem(lines[index].text) ? try sequence(indent: indent) : try mapping(indent: indent)
    }

    private mutating func sequence(indent: Int) throws -> YAMLNode {
        var items: [YAMLNode] = []
        while index < lines.count, lines[index].indent == indent, Self.isItem(lines[index].text) {
            let line = lines[index]
            index += 1
            let rest = line.text == "-" ? "" : String(line.text.dropFirst(2)).trimmingCharacters(in: .whitespaces)
            if rest.isEmpty {
                guard index < lines.count, lines[index].indent > indent else { items.append(.scalar("")); continue }
                items.append(try block(indent: lines[index].indent))
            } else if Self.splitKey(rest) != nil {
                throw error(line, "mappings inside sequences are not supported")
            } else {
                items.append(try inline(rest, line))
            }
        }
        if index < lines.count, lines[index].indent > indent { throw error(lines[index], "unexpected indentation") }
        return .list(items)
    }

    private mutating func mapping(indent: Int) throws -> YAMLNode {
        var entries: [String: YAMLNode] = [:]
        while index < lines.count, lines[index].indent == indent, !Self.isItem(lines[index].text) {
            let line = lines[index]
            index += 1
            guard let (key, rest) = Self.splitKey(line.text) else { throw error(line, "expected 'key: value'") }
            guard entries[key] == nil else { throw error(line, "duplicate key \(key)") }
            if !rest.isEmpty {
                entries[key] = try inline(rest, line)
            } else if index < lines.count, lines[index].indent > indent {
                entries[key] = try block(indent: lines[index].indent)
            } else if index < lines.count, lines[index].indent == indent, Self.isItem(lines[index].text) {
                entries[key] = try sequence(indent: indent)
            } else {
                entries[key] = .scalar("")
            }
        }
        if index < lines.count, lines[index].indent > indent { throw error(lines[index], "unexpected indentation") }
        return .map(entries)
    }

    /// A value on the same line as its key or dash.
    private func inline(_ text: String, _ line: Line) throws -> YAMLNode {
        if text.hasPrefix("[") {
            guard text.hasSuffix("]") else { throw error(line, "a flow sequence must close on its line") }
            let inner = String(text.dropFirst().dropLast())
            if inner.trimmingCharacters(in: .whitespaces).isEmpty { return .list([]) }
            return .list(try Self.splitFlow(inner).map { item in
                guard !item.hasPrefix("["), !item.hasPrefix("{") else { throw error(line, "nested flow collections are not supported") }
                return .scalar(try scalar(item, line))
            })
        }
        if text == "{}" { return .map([:]) }
        if let first = text.first, "{&*|>!%@`".contains(first) { throw error(line, "'\(first)' is not supported") }
        return .scalar(try scalar(text, line))
    }

    private func scalar(_ text: String, _ line: Line) throws -> String {
        if text.hasPrefix("\"") {
            var value = ""
            var escaped = false
            for character in text.dropFirst() {
                if escaped {
                    switch character {
                    case "n": value.append("\n")
                    case "t": value.append("\t")
                    default: value.append(character)
                    }
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    return value
                } else {
                    value.append(character)
                }
            }
            throw error(line, "unterminated double-quoted string")
        }
        if text.hasPrefix("'") {
            guard text.count >= 2, text.hasSuffix("'") else { throw error(line, "unterminated single-quoted string") }
            return String(text.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'")
        }
        return text
    }

    /// Splits `key: value` at the first `:` outside quotes that ends the text or is followed by a space.
    private static func splitKey(_ text: String) -> (String, String)? {
        var quote: Character?
        var escaped = false
        for position in text.indices {
            let character = text[position]
            if let open = quote {
                if escaped { escaped = false } else if character == "\\" && open == "\"" { escaped = true } else if character == open { quote = nil }
                continue
            }
            if (character == "\"" || character == "'") && position == text.startIndex { quote = character; continue }
            if character == ":" {
                let next = text.index(after: position)
                guard next == text.endIndex || text[next] == " " else { continue }
                var key = String(text[..<position]).trimmingCharacters(in: .whitespaces)
                if key.count >= 2, let first = key.first, (first == "\"" || first == "'"), key.last == first {
                    key = String(key.dropFirst().dropLast())
                }
                return (key, String(text[next...]).trimmingCharacters(in: .whitespaces))
            }
        }
        return nil
    }

    /// Splits a flow sequence's inside at commas outside quotes.
    private static func splitFlow(_ text: String) throws -> [String] {
        var items: [String] = []
        var current = ""
        var quote: Character?
        var escaped = false
        for character in text {
            if let open = quote {
                current.append(character)
                if escaped { escaped = false } else if character == "\\" && open == "\"" { escaped = true } else if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
                current.append(character)
            } else if character == "," {
                items.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(character)
            }
        }
        items.append(current.trimmingCharacters(in: .whitespaces))
        return items
    }

    /// The line without its comment (`#` at the start or after a space, outside quotes).
    private static func removingComment(_ line: String) -> String {
        var quote: Character?
        var escaped = false
        var previous: Character = " "
        for position in line.indices {
            let character = line[position]
            if let open = quote {
                if escaped { escaped = false } else if character == "\\" && open == "\"" { escaped = true } else if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                if previous == " " || previous == "[" || previous == "," || previous == "-" { quote = character }
            } else if character == "#" && previous.isWhitespace {
                return String(line[..<position])
            }
            previous = character
        }
        return line
    }
}
