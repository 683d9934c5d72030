"""mmdeploy rewriters for centerx_mm models (``codebase_config.module=
['centerx_mm.deploy']``). mmdeploy's mmdet codebase already rewrites
``SingleStageDetector.forward`` to ``extract_feat`` + ``bbox_head.predict``;
this makes our head return the decoded tensors of :func:`centerx_decode`,
the same ``CenterXHead.decode`` that ``predict`` uses.
"""
from mmdeploy.core import FUNCTION_REWRITER


@FUNCTION_REWRITER.register_rewriter(
    'centerx_mm.models.dense_heads.centerx_head.CenterXHead.predict_by_feat')
def centerx_head__predict_by_feat(self,
                                  *head_outs,
                                  batch_img_metas,
                                  rescale: bool = True):
    """Return ``dets`` (B, K, 5) and ``labels`` (B, K) in network-input
    pixels; mmdeploy's ``End2EndModel`` rescales them to the image.
    ``head_outs`` are the head's ``forward`` outputs (``CenterXHead`` and
    its subclass ``CenterXTTFHead``, which inherits this rewrite).

    ``img_shape`` is the (H, W) of the network input, a tensor when the
    deploy config has dynamic shapes. K is a constant (TensorRT's rewrite of
    ``topk`` keeps it one; K < 3840).
    """
    return self.decode(
        *head_outs, input_hw=batch_img_metas[0]['img_shape'])
