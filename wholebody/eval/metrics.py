"""Sub-task metrics reported by the seed papers (DOPE, COCO-WholeBody), numpy only.

One import point for the metrics spread over three modules:

=======================  ==============================  =====================================
metric                   function                        module
=======================  ==============================  =====================================
MPII PCKh@0.5            ``pckh``, ``mpii_head_size``,    :mod:`wholebody.eval.metrics2d`
                         ``group_means``
hand EPE (pixels)        ``epe``                          :mod:`wholebody.eval.metrics2d`
box-normalised NME       ``nme_box``, ``box_size``        :mod:`wholebody.eval.metrics2d`
PCK@0.2 (bbox max side)  ``pck``                          :mod:`wholebody.eval.metrics2d`
AUC of PCK (mmpose)      ``pck_auc``                      :mod:`wholebody.eval.metrics2d`
300W NME (inter-ocular)  ``nme_interocular``              :mod:`wholebody.eval.metrics_face`
Menpo 3DA-2D + CED/AUC   ``menpo_error``, ``ced_curve``,  :mod:`wholebody.eval.metrics_face`
                         ``ced_auc``
MPJPE, 3D-PCK@150 mm     ``mpjpe``, ``pck3d``             :mod:`wholebody.eval.metrics3d`
RHD 3D-PCK AUC           ``pck3d_auc``                    :mod:`wholebody.eval.metrics3d`
=======================  ==============================  =====================================

Units: 2D in pixels of the original image, 3D in metres (thresholds too: 150 mm = 0.150).
Each module's docstring states the exact convention it follows and where it comes from;
the empty-input rule and input errors are in :mod:`wholebody.eval.metrics_common`.
"""

from wholebody.eval.metrics2d import (
    DOPE13_TO_MPII,
    MPII_EXCLUDED,
    MPII_GROUPS,
    MPII_JOINTS,
    box_size,
    epe,
    group_means,
    mpii_head_size,
    nme_box,
    pck,
    pck_auc,
    pckh,
)
from wholebody.eval.metrics3d import (
    MUPOTS_PCK_THRESHOLD,
    RHD_AUC_FROM,
    RHD_SCALE_BONE,
    RHD_THRESHOLDS,
    PCKCurve,
    mpjpe,
    pck3d,
    pck3d_auc,
    root_relative,
)
from wholebody.eval.metrics_common import JointAccuracy
from wholebody.eval.metrics_face import (
    IBUG68_OUTER_EYE_CORNERS,
    MENPO_CUTOFF,
    PerImageError,
    ced_auc,
    ced_curve,
    landmark_box_diagonal,
    menpo_error,
    nme_interocular,
)

__all__ = [
    "DOPE13_TO_MPII", "IBUG68_OUTER_EYE_CORNERS", "MENPO_CUTOFF", "MPII_EXCLUDED", "MPII_GROUPS", "MPII_JOINTS",
    "MUPOTS_PCK_THRESHOLD", "RHD_AUC_FROM", "RHD_SCALE_BONE", "RHD_THRESHOLDS", "JointAccuracy",
    "PCKCurve", "PerImageError", "box_size", "ced_auc", "ced_curve", "epe", "group_means",
    "landmark_box_diagonal", "menpo_error", "mpii_head_size", "mpjpe", "nme_box",
    "nme_interocular", "pck", "pck3d", "pck3d_auc", "pckh", "root_relative",
]
