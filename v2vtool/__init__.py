"""v2vtool: few-shot video-to-video synthesis (Wang et al., NeurIPS 2019)."""
__version__ = "0.1.0"
