"""Fine-grained Prompt Tuning for high-resolution medical image classification on timm ViTs and fastai.

The modules are generated from the notebooks in nbs/ by nbdev-export; this file only re-exports the public names."""
__version__ = "0.1.0"

from .core import count_params, ParamCount, seeded, get_device, tiny_vit
from .data.io import load_image, image_files, IMAGE_EXTS, parse_scale
from .data.core import FPTData, fpt_dls, folder_items, csv_items, class_folder_items, split_items, image_stats, file_hash, hash_items
from .data.recipes import dataset_items, load_recipe, list_recipes, recipe_dls
from .models.backbone import FrozenBackbone, create_lpm
from .models.weights import read_checkpoint, LPMCheckpoint
from .models.catalogue import CATALOGUE, FoundationModel, foundation_model, catalogue_table
from .models.side import SideViT
from .models.fusion import FusionModule
from .models.fpt import FPTConfig, FPTModel, build_fpt, build_side
from .store import FeatureStore
from .preload import preloaded_dls  # (the function `preload` stays in fpt_kit.preload: a top-level name would hide the module)
from .metrics import AUC, auc_score, QuadraticKappa, fpt_metrics, ppe, pme
from .methods import METHODS, Method, MethodOptions, register_method, get_method, methods_table
from .baselines import BASELINES, build_baseline, register_baseline, PromptOptions, AdapterOptions, LoRAOptions
from .learner import FPTLearner, fpt_learner
# viz: the capture and the figures; importing them adds FPTLearner.capture_attention / show_tokens / show_prompt_attention /
# show_training. The widgets (fpt_kit.viz.widgets) and attributions (fpt_kit.viz.attributions) import ipywidgets and captum
# and stay out of `import fpt_kit`.
from .viz.capture import AttentionData, attention_data, denormalise, tokens_to_grid
from .viz.figures import overlay_figure, token_figure, token_grid_figure, prompt_attention_figure, token_ratio_figure, recorder_figure
from . import show  # names nothing new: it teaches fastai's show_batch, show_results and plot_top_losses FPT's online and preloaded batches
