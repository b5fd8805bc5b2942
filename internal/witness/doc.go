// Package witness is the I/O around the witness quorum's rules (package
// quorum): the witness that runs on every node (`irisha-manager witness`,
// a DaemonSet), its record in the API server, the signed answers it gives,
// and the Asker an agent uses to ask the witnesses when it cannot renew its
// fencing Lease.
//
// Authentication: each run of a witness makes an ed25519 key and publishes
// the public half in its record; an answer is signed over the witness's
// name, the question's nonce and the answer, so a forged answer does not
// verify and a replayed one carries another question's nonce. Agents learn
// the members (address and key) while the API server is up and keep that
// list through an outage. The channel itself needs no secrecy: questions
// and answers say nothing an attacker could use.
package witness
