"""Paddle backend passes (PaddleSlim pruning and quantization, Paddle inference export).

Imported only inside the paddle worker process. Import order matters: Python's ``zlib`` must be loaded before
``paddle`` (libpaddle exports its own zlib symbols; gzip use after that segfaults), see DEVELOPERS.md.
"""
