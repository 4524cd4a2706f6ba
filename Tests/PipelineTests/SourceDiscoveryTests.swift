import Foundation
@testable import Pipeline
import Testing
import Media
import TestSupport

@Suite struct SourceDiscoveryTests {
    @Test func scansFoldersReadsManifestsAndKeepsURLs() throws {
        let folder = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let nested = folder.appendingPathComponent("a/b")
        try FileManager.default.createDirectory(at: nested, withIntermediateDirectories: true)
        for name in ["a/one.MP4", "a/b/two.mkv", "a/notes.txt.bak", "a/.hidden.mp4"] {
            _ = FileManager.default.createFile(atPath: folder.appendingPathComponent(name).path, contents: Data())
        }
        try "# clips\n a/one.MP4\n\nhttps://example.org/x.mp4\n/abs/three.mp4\n".write(
            to: folder.appendingPathComponent("list.txt"), atomically: true, encoding: .utf8)
        try "id,path,note\n1,\"a/b/two.mkv\",\"x, y\"\n2,\"we\"\"ird.mp4\",\n".write(
            to: folder.appendingPathComponent("list.csv"), atomically: true, encoding: .utf8)

        let discovery = SourceDiscovery()
        let scanned = try discovery.sources(from: [folder.appendingPathComponent("a").path])
        #expect(scanned == [folder.appendingPathComponent("a/b/two.mkv").path, folder.appendingPathComponent("a/one.MP4").path].sorted())
        let listed = try discovery.sources(from: [folder.appendingPathComponent("list.txt").path, "http://host/y.mp4"])
        #expect(listed == [folder.appendingPathComponent("a/one.MP4").path, "https://example.org/x.mp4", "/abs/three.mp4", "http://host/y.mp4"])
        let csv = try discovery.sources(from: [folder.appendingPathComponent("list.csv").path])
        #expect(csv == [folder.appendingPathComponent("a/b/two.mkv").path, folder.appendingPathComponent("we\"ird.mp4").path])
    }

    @Test func reportsMissingInputsAndManifestsWithoutAPathColumn() throws {
        let folder = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: SourceDiscovery.InputError.self) { try SourceDiscovery().sources(from: ["/no/such/folder"]) }
        let csv = folder.appendingPathComponent("bad.csv")
        try "name,size\na,1\n".write(to: csv, atomically: true, encoding: .utf8)
        #expect(throws: SourceDiscovery.InputError.self) { try SourceDiscovery().sources(from: [csv.path]) }
    }

    @Test func mediaPolicyKeepsJobsInsideTheRoots() {
        let policy = MediaPolicy(roots: ["/media/archive"], protocols: ["file", "https"])
        #expect((try? policy.check(.init("/media/archive/x.mp4")).get()) != nil)
        #expect((try? policy.check(.init("/media/archive/../secret/x.mp4")).get()) == nil)
        #expect((try? policy.check(.init("/media/archive-other/x.mp4")).get()) == nil)
        #expect((try? policy.check(.init("https://example.org/x.mp4")).get()) != nil)
        #expect((try? policy.check(.init("http://example.org/x.mp4")).get()) == nil)
        #expect((try? policy.check(.init("ftp://example.org/x.mp4")).get()) == nil)
        #expect((try? policy.check(.init("file://%zz/etc/passwd")).get()) == nil)
        #expect((try? policy.check(.init("file:///etc/passwd")).get()) == nil)
    }
}
