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

@Suite struct FrameRotationTests {
    /// 3x2:  a b c
    ///       d e f
    let pixels: [UInt8] = [1, 2, 3, 4, 5, 6]

    @Test func turnsFramesClockwise() {
        let quarter = GrayConverter.rotate(pixels, width: 3, height: 2, clockwise: 90)
        #expect(quarter.1 == 2 && quarter.2 == 3 && quarter.0 == [4, 1, 5, 2, 6, 3])
        let half = GrayConverter.rotate(pixels, width: 3, height: 2, clockwise: 180)
        #expect(half.1 == 3 && half.2 == 2 && half.0 == [6, 5, 4, 3, 2, 1])
        let threeQuarters = GrayConverter.rotate(pixels, width: 3, height: 2, clockwise: 270)
        #expect(threeQuarters.1 == 2 && threeQuarters.2 == 3 && threeQuarters.0 == [3, 6, 2, 5, 1, 4])
        // A full turn in quarters gives the frame back.
        var turned = (pixels, 3, 2)
        for _ in 0..<4 { turned = GrayConverter.rotate(turned.0, width: turned.1, height: turned.2, clockwise: 90) }
        #expect(turned.0 == pixels && turned.1 == 3)
    }
}
