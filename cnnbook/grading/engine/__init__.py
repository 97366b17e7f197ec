"""The grader's trusted side: read a notebook (`extract`), isolate its code (`isolation`,
`sandbox`), and score what comes back (`grader`). Nothing here runs submitted code."""
