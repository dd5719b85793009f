"""Network building blocks shared by every model in the package.

* ``blocks``: conv blocks, DCGAN initialisation, the G3 module (``G3Block``), the stacked G3 trunk
  (``G3Trunk``) and the RGB head (``VideoHead``) of the EncGAN3 / G3AN generator (EncGAN3 Sec. 3);
* ``attention``: factorised self-attention F-SA (temporal then spatial, SAGAN style);
* ``discriminators``: the image discriminator D_I and the video discriminator D_V (EncGAN3 Eq. 3–4),
  optionally class-aware (category head or label input), and ``random_frame`` for D_I;
* ``config``: the two scales (``lesson``, ``paper``) every model config shares;
* ``encoders``: EncGAN3's content encoder (first frame) and motion encoder (difference maps, FC);
* ``encgan3``: EncGAN3 and, with ``use_encoder=False``, G3AN (Eq. 1-4, the D -> Enc -> G schedule);
* ``rencgan3``: REncGAN3, EncGAN3 with the recall link for long videos (Eq. 1-5, the Markov chain);
* ``fevgan``: FEV-GAN, a facial-expression clip from one neutral face and a label (frozen E_Id, E_s, G_dec, Eq. 1-5);
* ``vicegan``: VICE-GAN, an identity-consistent emotion clip: the Table 1 autoencoders (content), a GRU (motion),
  a one-hot category, a 2D frame generator, D_I and a category-aware D_V; the Table 2 variants;
* ``frames``: the frame baselines of lesson 01 (VAE, DCGAN, VAE/GAN).

>>> import torch
>>> from vgan_lesson.models import G3Trunk, VideoHead
>>> trunk = G3Trunk(content_dim=16, motion_dim=4, widths=(16, 16, 8, 4), attention_after=2)
>>> head = VideoHead(trunk.out_channels)
>>> head(trunk(torch.randn(2, 16), torch.randn(2, 4, 1))).shape   # 4·(T'+3) = 16 frames of 32×32
torch.Size([2, 3, 16, 32, 32])
"""
from .attention import (FactorizedSelfAttention, SpatialSelfAttention, TemporalSelfAttention, from_spatial_tokens,
                        from_temporal_tokens, to_spatial_tokens, to_temporal_tokens)
from .blocks import (G3Block, G3Streams, G3Trunk, VideoDecoder, VideoHead, conv2d_block, conv3d_block,
                     count_parameters, deconv2d_block, deconv3d_block, g3_widths, has_spectral_norm, init_weights,
                     time_upsampling)
from .discriminators import (ImageDiscriminator, VideoDiscriminator, one_hot_labels, random_frame, split_logits)
from .encgan3 import EncGAN3, EncGAN3Config, ablation_configs
from .encoders import ContentEncoder, MotionEncoder, SpatialEncoder
from .fevgan import FEVGAN, FEVGANConfig, IdentityEncoder
from .rencgan3 import REncGAN3, REncGAN3Config
from .vicegan import AutoencoderConfig, FaceAutoencoder, MotionRNN, VICEGAN, VICEGANConfig
from .frames import FrameGAN, FrameModelConfig, FrameVAE, FrameVAEGAN, make_frame_model

__all__ = [
    "conv2d_block", "deconv2d_block", "conv3d_block", "deconv3d_block", "init_weights", "has_spectral_norm",
    "count_parameters", "G3Block", "G3Streams", "G3Trunk", "VideoHead", "VideoDecoder", "g3_widths",
    "time_upsampling",
    "FactorizedSelfAttention", "TemporalSelfAttention", "SpatialSelfAttention",
    "to_temporal_tokens", "from_temporal_tokens", "to_spatial_tokens", "from_spatial_tokens",
    "ImageDiscriminator", "VideoDiscriminator", "random_frame", "split_logits", "one_hot_labels",
    "ContentEncoder", "MotionEncoder", "SpatialEncoder", "EncGAN3", "EncGAN3Config", "ablation_configs",
    "REncGAN3", "REncGAN3Config",
    "FrameModelConfig", "FrameVAE", "FrameGAN", "FrameVAEGAN", "make_frame_model",
    "FEVGAN", "FEVGANConfig", "IdentityEncoder",
    "VICEGAN", "VICEGANConfig", "FaceAutoencoder", "AutoencoderConfig", "MotionRNN",
]
