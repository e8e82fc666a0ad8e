// Package bcrypt hashes passwords and checks HTTP basic auth credentials
// against a table of bcrypt hashes, as web.yml's basic_auth_users holds them.
//
// Hash and CheckHash work on single hashes: $2a$, $2b$ and $2y$ (what
// htpasswd -nB prints) all verify. NewUsers compiles a user → hash table once
// per configuration change. A Verifier, one per server and kept across
// reloads, answers Verify(users, user, password) and VerifyFrom(client,
// users, user, password) cheaply and safely:
//
//   - Verdicts are cached under HMAC-SHA256(random per-process key, user,
//     hash, password): the cache holds no password and nothing a password can
//     be recovered from, and a changed hash misses the cache by construction.
//   - Correct and wrong passwords are cached apart, each bounded. Only a
//     correct password can enter the success cache, so a flood of wrong ones
//     neither evicts a scraper's credentials nor delays their answer: a cached
//     success takes a read lock that no bcrypt work ever holds.
//   - bcrypt comparisons that miss the cache are bounded: by default half the
//     CPUs run them and a short queue waits; past that Verify returns ErrBusy
//     at once, for the server to answer 429. Identical concurrent checks
//     share one comparison.
//   - VerifyFrom names the client a check comes from (a web server passes
//     its address). Waiting checks are admitted round-robin across clients,
//     and a full queue makes room for a newcomer by pushing out the newest
//     check of the client with the most waiting, so one client's flood
//     cannot keep another's first login out. Failures are counted per
//     client in a bounded table: after 10 in a minute (by default) the
//     client gets ErrTooManyFailures, with no bcrypt work, until the minute
//     is over; a password already in the success cache still passes.
//   - An unknown user is compared, just as expensively, against a decoy hash
//     at the table's highest cost, and fails with ErrUnknownUser. Known users
//     with a lower cost than the highest answer faster on a cache miss; give
//     every user the same cost to leave no timing difference at all.
package bcrypt
