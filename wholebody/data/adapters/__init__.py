"""Data adapters: each dataset format -> the common per-image :class:`~wholebody.data.adapters.sample.Sample`.

Modules: ``cocowb`` (COCO-WholeBody 2D), ``h36m`` (Human3.6M 3D body, cameras), ``h3wb``
(H3WB 3D whole-body), ``rhd`` (RHD hands 2D + 3D), ``face300w`` (300W faces 2D), ``folder``
(unlabelled images and videos).  Import the one you need; nothing is loaded here.
"""
