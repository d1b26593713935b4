"""Losses: pure functions (one concept per module) and the objective that sums named terms."""
from v2vtool.losses.feature_matching import feature_matching_loss
from v2vtool.losses.flow import flow_loss, mask_loss, warp_loss
from v2vtool.losses.gan import d_hinge_loss, g_hinge_loss
from v2vtool.losses.objective import discriminator_losses, generator_losses
from v2vtool.losses.perceptual import perceptual_loss
from v2vtool.losses.reconstruction import l1_loss

__all__ = ["feature_matching_loss", "flow_loss", "mask_loss", "warp_loss", "d_hinge_loss",
           "g_hinge_loss", "discriminator_losses", "generator_losses", "perceptual_loss", "l1_loss"]
