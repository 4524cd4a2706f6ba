import Analysis
import Emotion
import Foundation
import Testing
import TestSupport

@Suite struct FERPlusVotesTests {
    // Columns: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF.
    @Test func theMajorityIsTheMostVotedCanonicalLabel() {
        #expect(FERPlusVotes.majority([4, 0, 0, 1, 3, 2, 0, 0, 0, 0]) == .neutral)
        #expect(FERPlusVotes.majority([0, 0, 1, 2, 7, 0, 0, 0, 0, 0]) == .angry)
        // A tie goes to the first in canonical order (angry disgust fear happy sad surprise neutral).
        #expect(FERPlusVotes.majority([5, 0, 0, 0, 5, 0, 0, 0, 0, 0]) == .angry)
    }

    @Test func contemptUnknownAndNotAFaceLeaveNoMajority() {
        #expect(FERPlusVotes.majority([2, 0, 0, 0, 0, 0, 0, 5, 3, 0]) == nil)
        #expect(FERPlusVotes.majority([3, 0, 0, 0, 0, 0, 0, 0, 3, 4]) == nil)
        #expect(FERPlusVotes.majority([0, 0, 0, 0, 0, 0, 0, 0, 0, 10]) == nil)
    }

    @Test func readsTheVotesFileAndKeysByPath() throws {
        let folder = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("ferplus_votes.csv")
        try """
        split,path,ferplus_name,match_rmse,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF
        public_test,public_test/sad/PublicTest_1.jpg,fer0032220.png,1.2,1,0,0,8,0,0,1,0,0,0
        public_test,public_test/happy/PublicTest_2.jpg,fer0032221.png,1.1,0,0,0,0,0,0,0,0,0,10
        """.write(to: file, atomically: true, encoding: .utf8)
        let votes = try FERPlusVotes(contentsOf: file.path)
        #expect(votes.votes.count == 2)
        let split = folder.appendingPathComponent("public_test")
        let majorities = votes.majorities(under: split)
        #expect(majorities == [split.appendingPathComponent("sad/PublicTest_1.jpg").standardizedFileURL.path: .sad])
    }
}
