"""The untrusted side: code that runs inside the sandbox next to a submission (`runner`
as a script, with `calls` and `watch` beside it). It imports nothing of the course
package, so a submission cannot reach the references through it."""
