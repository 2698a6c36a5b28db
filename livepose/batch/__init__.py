"""``livepose batch``: a library of videos, each processed exactly as ``livepose run`` would
(same RunConfig through :func:`livepose.build.build`, same outputs), on local worker processes
or a Ray cluster, with a manifest and resumable (docs/batch.md).

* :mod:`livepose.batch.inputs`: which videos, and the output folder of each;
* :mod:`livepose.batch.job`: one video (its picklable Job; run_job in a worker; the done marker);
* :mod:`livepose.batch.manifest`: OUT/manifest.csv and manifest.json;
* :mod:`livepose.batch.local`: ProcessPoolExecutor workers (spawn), surviving a worker's death;
* :mod:`livepose.batch.cluster`: one Ray task per video;
* :mod:`livepose.batch.command`: the command line.
"""
