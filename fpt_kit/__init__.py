"""Fine-grained Prompt Tuning for high-resolution medical image classification on timm ViTs and fastai.

The modules are generated from the notebooks in nbs/ by nbdev-export; this file only re-exports the public names."""
__version__ = "0.1.0"

from .core import count_params, ParamCount, seeded, get_device, tiny_vit
from .models.backbone import FrozenBackbone
from .models.side import SideViT
from .models.fusion import FusionModule
from .models.fpt import FPTConfig, FPTModel, build_fpt
