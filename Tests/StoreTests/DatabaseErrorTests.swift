@testable import Store
import Testing

/// Which database failures a caller retries (Fusion keeps the result unacknowledged and tries again) and which it
/// gives up on (the result is refused and dead-lettered).
struct DatabaseErrorTests {
    @Test(arguments: [
        "08006",                       // connection failure
        SQLState.adminShutdown,        // the server is shutting down
        SQLState.serializationFailure,
        SQLState.deadlockDetected,
        SQLState.diskFull,             // the volume holding the tables is full: cleared by an operator
        "53200",                       // out of memory
        "53300",                       // too many connections
        "58030",                       // I/O error
    ])
    func conditionsAnOperatorOrARetryClearsAreTransient(sqlState: String) {
        #expect(DatabaseError(.statementFailed, sqlState: sqlState, message: "").isTransient)
    }

    @Test(arguments: [SQLState.uniqueViolation, "22P02", "42P01", "23502"])
    func faultsOfTheStatementItselfAreNot(sqlState: String) {
        #expect(!DatabaseError(.statementFailed, sqlState: sqlState, message: "").isTransient)
    }

    @Test func lostConnectionsAreTransientAndBadURLsAreNot() {
        #expect(DatabaseError(.connectionLost, message: "").isTransient)
        #expect(DatabaseError(.connectionFailed, message: "").isTransient)
        #expect(!DatabaseError(.invalidURL, message: "").isTransient)
        #expect(!DatabaseError(.statementFailed, message: "no SQLSTATE").isTransient)
    }
}
