import Emotion
import Testing

@Suite struct RavdessNameTests {
    @Test func parsesEveryField() throws {
        let name = try #require(RavdessName(path: "/data/Actor_17/03-01-05-02-01-02-17.flac"))
        #expect(name.modality == 3)
        #expect(name.vocalChannel == 1)
        #expect(name.emotion == .angry)
        #expect(name.intensity == 2)
        #expect(name.statement == 1)
        #expect(name.repetition == 2)
        #expect(name.actor == 17)
    }

    @Test(arguments: ["clip.mp4", "01-01-09-01-01-01-01.mp4", "01-01-01-01-01-01.mp4", "01-01-01-01-01-01-25.mp4", "a-b-c-d-e-f-g.mp4"])
    func rejectsOtherNames(_ path: String) {
        #expect(RavdessName(path: path) == nil)
    }

    @Test func namesTheSameTakeInAnotherModality() throws {
        let name = try #require(RavdessName(path: "02-01-08-02-01-01-01.mp4"))
        #expect(name.take(modality: 3, extension: "flac") == "03-01-08-02-01-01-01.flac")
    }

    @Test func mapsRavdessEmotionsToCanonicalLabels() {
        #expect(RavdessEmotion.calm.canonical == .neutral)
        #expect(RavdessEmotion.neutral.canonical == .neutral)
        #expect(RavdessEmotion.fearful.canonical == .fear)
        #expect(RavdessEmotion.surprised.canonical == .surprise)
        #expect(Set(RavdessEmotion.allCases.map(\.canonical)) == Set(EmotionLabel.allCases))
    }
}
