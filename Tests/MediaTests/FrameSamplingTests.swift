@testable import Media
import Testing

@Suite struct FrameSamplingTests {
    func chosen(_ sampling: FrameSampling, frames: Int, fps: Double) -> [Int] {
        var selector = FrameSampling.Selector(sampling)
        return (0..<frames).filter { selector.wants(index: $0, time: Double($0) / fps) }
    }

    @Test func referenceTakesEveryThirdFrameAfterTheFirstTwenty() {
        #expect(chosen(.reference, frames: 30, fps: 30) == [20, 23, 26, 29])
    }

    @Test func rateTakesEvenlySpacedFrames() {
        #expect(chosen(.rate(framesPerSecond: 10), frames: 30, fps: 30) == Array(stride(from: 0, to: 30, by: 3)))
        #expect(chosen(.rate(framesPerSecond: 5), frames: 100, fps: 29.97).count == 17)
    }

    @Test func aRateAboveTheFrameRateTakesEveryFrame() {
        #expect(chosen(.rate(framesPerSecond: 60), frames: 10, fps: 30) == Array(0..<10))
        #expect(chosen(.all, frames: 5, fps: 30) == Array(0..<5))
    }
}
