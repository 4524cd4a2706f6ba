import Analysis
import Foundation
import Testing

/// Heads of a multi-head model card: which logits each head owns and which one is served.
struct ModelCardHeadTests {
    static func card(heads: [String]?, served: String? = nil, vote: String? = nil) throws -> ModelCard {
        var fields: [String: Any] = [
            "schema": 1, "name": "test-face", "task": "face", "onnx": "test.onnx", "sha256": "00",
            "labels": ["angry", "happy", "neutral"],
            "canonical": ["angry": "angry", "happy": "happy", "neutral": "neutral"],
            "input": ["scale": 1.0, "offset": 0.0], "fusion_weight": 1.0,
        ]
        fields["heads"] = heads
        fields["served_head"] = served
        fields["vote_head"] = vote
        return try JSONDecoder().decode(ModelCard.self, from: JSONSerialization.data(withJSONObject: fields))
    }

    @Test func aOneHeadCardHasItsLabelsAsOutputs() throws {
        let card = try Self.card(heads: nil)
        #expect(card.outputCount == 3)
        #expect(try card.headOffset(nil) == 0)
        #expect(throws: AnalysisError.self) { try card.headOffset("intended") }
    }

    @Test func theServedHeadIsTheDefaultAndEachHeadOwnsItsBlock() throws {
        let card = try Self.card(heads: ["perceived", "intended"], served: "intended", vote: "perceived")
        #expect(card.outputCount == 6)
        #expect(try card.headOffset(nil) == 3)
        #expect(try card.headOffset("intended") == 3)
        #expect(try card.headOffset("perceived") == 0)
        #expect(card.voteHead == "perceived")
    }

    @Test func withoutAServedHeadTheFirstIsServed() throws {
        #expect(try Self.card(heads: ["perceived", "intended"]).headOffset(nil) == 0)
    }

    @Test func anUnknownHeadIsAnErrorNamingTheHeads() throws {
        let card = try Self.card(heads: ["perceived", "intended"], served: "intended")
        #expect {
            try card.headOffset("posed")
        } throws: { error in
            "\(error)".contains("perceived, intended")
        }
        #expect(throws: AnalysisError.self) { try Self.card(heads: ["perceived"], served: "missing").headOffset(nil) }
    }
}
