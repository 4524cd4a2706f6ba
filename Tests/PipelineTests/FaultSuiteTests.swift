import Foundation
import Testing
import TestSupport

/// The fault suite's structure (scripts/fault-suite, scripts/faults/): every case the runner knows has its file, every
/// case file is run, reads as setup, fault and expectations, and parses. Running the cases themselves is CI's
/// `scripts/fault-suite`.
@Suite struct FaultSuiteTests {
    static let faults = TestData.repositoryRoot.appendingPathComponent("scripts/faults")

    /// The case names in the runner's `ALL_CASES`, in order.
    static func registeredCases() throws -> [String] {
        let runner = try String(contentsOf: TestData.repositoryRoot.appendingPathComponent("scripts/fault-suite"), encoding: .utf8)
        let start = try #require(runner.range(of: "ALL_CASES=("))
        let end = try #require(runner[start.upperBound...].firstIndex(of: ")"))
        return runner[start.upperBound..<end].split(whereSeparator: \.isWhitespace).map(String.init)
    }

    static func caseFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: faults.appendingPathComponent("cases").path)
            .filter { $0.hasSuffix(".sh") }.map { String($0.dropLast(3)) }.sorted()
    }

    /// The file a case runs: NAME.sh, or KIND.sh for KIND-ARG.
    static func file(of name: String, among files: [String]) -> String? {
        if files.contains(name) { return name }
        guard let dash = name.lastIndex(of: "-") else { return nil }
        let kind = String(name[..<dash])
        return files.contains(kind) ? kind : nil
    }

    @Test func everyRegisteredCaseHasItsFileAndEveryFileIsRun() throws {
        let cases = try Self.registeredCases()
        let files = try Self.caseFiles()
        #expect(cases.count >= 22 && Set(cases).count == cases.count, "\(cases)")
        for name in cases {
            #expect(Self.file(of: name, among: files) != nil, "no scripts/faults/cases file for case \(name)")
        }
        let used = Set(cases.compactMap { Self.file(of: $0, among: files) })
        #expect(used == Set(files), "case files no case runs: \(Set(files).subtracting(used).sorted())")
        let help = try String(contentsOf: TestData.repositoryRoot.appendingPathComponent("scripts/fault-suite"), encoding: .utf8)
            .split(separator: "\n").prefix(25).joined(separator: " ").replacingOccurrences(of: "#", with: "")
            .replacingOccurrences(of: " ", with: "")
        for name in cases {
            #expect(help.contains(name), "--help does not list \(name)")
        }
    }

    @Test func everyCaseReadsAsSetupFaultExpectationsAndParses() throws {
        for name in try Self.caseFiles() {
            let path = Self.faults.appendingPathComponent("cases/\(name).sh").path
            let text = try String(contentsOfFile: path, encoding: .utf8)
            for phase in ["setup", "fault", "expectations"] {
                #expect(text.contains("\n\(phase)() {"), "\(name).sh defines no \(phase)()")
            }
            #expect(text.hasPrefix("# "), "\(name).sh does not open with a comment saying what it does")
            #expect(try TestData.run("bash", ["-n", path]) == 0, "\(name).sh does not parse")
        }
        for helper in ["harness.sh", "setup.sh"] {
            #expect(try TestData.run("bash", ["-n", Self.faults.appendingPathComponent(helper).path]) == 0, "\(helper) does not parse")
        }
    }
}
