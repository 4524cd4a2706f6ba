import Foundation

/// A first-in first-out queue that threads can block on. Thread-safe.
public final class WorkQueue<Element: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Element] = []
    private var head = 0
    private var closed = false

    public init() {}

    /// Appends an item and wakes one waiting taker.
    public func put(_ item: Element) {
        condition.lock()
        items.append(item)
        condition.signal()
        condition.unlock()
    }

    /// Removes the oldest item, waiting while the queue is empty. Returns `nil` once the queue is closed and empty.
    public func take() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while head == items.count && !closed { condition.wait() }
        return popLocked()
    }

    /// Removes the oldest item if there is one, without waiting.
    public func poll() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        return popLocked()
    }

    /// Removes and returns every item.
    public func drain() -> [Element] {
        condition.lock()
        defer { condition.unlock() }
        let all = Array(items[head...])
        items.removeAll()
        head = 0
        return all
    }

    /// Wakes every taker; `take()` returns `nil` once the remaining items are gone.
    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    private func popLocked() -> Element? {
        guard head < items.count else { return nil }
        let item = items[head]
        head += 1
        if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return item
    }
}
