"""OCR models served by a Triton Inference Server: the model contract (:mod:`.models`), the model repository
(:mod:`.repository`), a local tritonserver for development and tests (:mod:`.server`) and the python-backend model
file of the development repository (``python_model.py``, copied, never imported here).

Needs the ``triton`` extra (``pip install 'streamprocess[triton]'``); nothing here is imported by the stock engines.
"""
