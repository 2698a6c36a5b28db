"""From keypoints to answers: joint and segment angles, per-person tables and summaries
(``livepose analyze``).  See docs/analysis.md."""
