import Emotion
import Foundation

/// Draws a clip's emotion timeline as a standalone SVG page: one lane per stream plus the fused answer,
/// coloured by emotion, over a time axis, with a legend.
public enum TimelineSVG {
    /// One window of the timeline.
    public struct Window: Sendable, Equatable {
        public var start: Double
        public var end: Double
        public var audio: EmotionLabel?
        public var video: EmotionLabel?
        public var fused: EmotionLabel?

        public init(start: Double, end: Double, audio: EmotionLabel?, video: EmotionLabel?, fused: EmotionLabel?) {
            self.start = start
            self.end = end
            self.audio = audio
            self.video = video
            self.fused = fused
        }
    }

    /// A colour per canonical emotion (colour-blind-friendly where it can be), and one for "no answer".
    public static func colour(_ label: EmotionLabel?) -> String {
        switch label {
        case .angry: "#d62728"
        case .disgust: "#2ca02c"
        case .fear: "#9467bd"
        case .happy: "#f2b701"
        case .sad: "#1f77b4"
        case .surprise: "#ff7f0e"
        case .neutral: "#b0b0b0"
        case nil: "#f4f4f4"
        }
    }

    /// The SVG document for `windows` of a clip lasting `duration` seconds.
    public static func render(title: String, duration: Double, windows: [Window]) -> String {
        let width = 960.0
        let left = 80.0
        let right = 20.0
        let laneHeight = 34.0
        let top = 56.0
        let plotWidth = width - left - right
        let span = max(duration, windows.map(\.end).max() ?? 0, 0.001)
        func x(_ seconds: Double) -> Double { left + plotWidth * seconds / span }
        let lanes: [(String, KeyPath<Window, EmotionLabel?>)] = [("audio", \.audio), ("video", \.video), ("fused", \.fused)]
        let axisY = top + Double(lanes.count) * (laneHeight + 8) + 4
        let height = axisY + 80
        var svg = [
            ##"<svg xmlns="http://www.w3.org/2000/svg" width="\##(Int(width))" height="\##(Int(height))" viewBox="0 0 \##(Int(width)) \##(Int(height))" font-family="sans-serif" font-size="12">"##,
            ##"<rect width="100%" height="100%" fill="white"/>"##,
            ##"<text x="\##(left)" y="24" font-size="15" font-weight="bold">\##(escape(title))</text>"##,
            ##"<text x="\##(left)" y="42" fill="#555">\##(String(format: "%.1f", span)) s, \##(windows.count) window(s)</text>"##,
        ]
        for (lane, (name, path)) in lanes.enumerated() {
            let y = top + Double(lane) * (laneHeight + 8)
            svg.append(##"<text x="\##(left - 10)" y="\##(y + laneHeight / 2 + 4)" text-anchor="end">\##(name)</text>"##)
            svg.append(##"<rect x="\##(left)" y="\##(y)" width="\##(plotWidth)" height="\##(laneHeight)" fill="#fafafa" stroke="#ddd"/>"##)
            for window in windows {
                let label = window[keyPath: path]
                let start = x(window.start)
                let end = x(window.end)
                svg.append(##"<rect x="\##(fmt(start))" y="\##(y)" width="\##(fmt(max(end - start, 0.5)))" height="\##(laneHeight)" fill="\##(colour(label))"><title>\##(name) \##(fmt(window.start))–\##(fmt(window.end)) s: \##(label?.rawValue ?? "no answer")</title></rect>"##)
            }
        }
        svg.append(##"<line x1="\##(left)" y1="\##(axisY)" x2="\##(left + plotWidth)" y2="\##(axisY)" stroke="#333"/>"##)
        let step = tickStep(span)
        var tick = 0.0
        while tick <= span + 1e-9 {
            svg.append(##"<line x1="\##(fmt(x(tick)))" y1="\##(axisY)" x2="\##(fmt(x(tick)))" y2="\##(axisY + 5)" stroke="#333"/>"##)
            svg.append(##"<text x="\##(fmt(x(tick)))" y="\##(axisY + 18)" text-anchor="middle">\##(timeLabel(tick))</text>"##)
            tick += step
        }
        var legendX = left
        for label in EmotionLabel.allCases {
            svg.append(##"<rect x="\##(fmt(legendX))" y="\##(axisY + 40)" width="14" height="14" fill="\##(colour(label))"/>"##)
            svg.append(##"<text x="\##(fmt(legendX + 18))" y="\##(axisY + 52)">\##(label.rawValue)</text>"##)
            legendX += 100
        }
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }

    /// A tick spacing giving 5 to 12 ticks: 1, 2, 5 × a power of ten seconds.
    static func tickStep(_ span: Double) -> Double {
        let raw = span / 8
        let magnitude = pow(10, floor(log10(max(raw, 1e-3))))
        return [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
    }

    static func timeLabel(_ seconds: Double) -> String {
        seconds >= 60 ? String(format: "%d:%02d", Int(seconds) / 60, Int(seconds) % 60) : String(format: "%g s", seconds)
    }

    static func fmt(_ value: Double) -> String { String(format: "%.1f", value) }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
