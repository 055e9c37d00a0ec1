// Package banktest holds the ledger's bank test (issue 15): the fog node
// process (`fog run`) with a ledger on its on-disk store, eight writers
// making random transfers among a hundred wallet accounts through its
// JSON-RPC wallet calls, and repeated kill -9 of that process at random
// moments. TestBankStack does the same with the ledger stack in a test
// child process.
// After every restart the balances add up to the supply, every
// acknowledged transfer is there and confirmed, and no confirmed block was
// replaced by another (no double spend). The package has no code of its
// own: `make test` runs a short version, `make banktest` the long one.
package banktest
