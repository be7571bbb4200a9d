"""Deployment: ONNX export of a tracker's template and search branches, and an onnxruntime backend.

* :func:`rgbtfuse.trackers.deploy.export.export_tracker` — experiment + weights → model folder
  (``template.onnx``, ``search.onnx``, ``manifest.json``; for single-modality NanoTrack also the
  ``cv2.TrackerNano`` pair).
* :func:`rgbtfuse.trackers.deploy.runtime.build_onnx_tracker` — model folder → a tracker with the usual
  ``init(rgb, ir, box)`` / ``track(rgb, ir)`` API, running the networks in onnxruntime.
"""
