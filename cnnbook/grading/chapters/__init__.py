"""The exercise specs, one module per chapter (`chNN`): cases, references, points and
what a solution may not use. Trusted code: it runs in the grader and in students'
self-checks, never next to a submission."""
