"""Synthesis: K example images of an unseen target + a driver -> a video of the target.

Public API
- `synthesize(examples, driver, out, checkpoint=None, ...) -> SynthesisResult`: files in,
  mp4 (+ sidecar, attention maps, frames) out; the library behind `v2v synthesize`.
- `iter_synthesis(generator, config, example_images, example_semantics, driver_frames,
  driver_size=None, retarget=True, finetune=0, seed=0) -> Iterator[SynthFrame]`: the
  in-memory streaming core (used by the evaluation protocol); see `stream`.
- `Synthesizer`: examples prepared once (optionally finetuned), then `run(driver_frames)`.
- `load_examples`, `open_driver`: the file inputs (see `sources` for accepted forms).
"""
from v2vtool.synthesis.api import SynthesisResult, synthesize
from v2vtool.synthesis.sources import MAX_EXAMPLES, DriverSource, load_examples, open_driver
from v2vtool.synthesis.stream import SynthFrame, Synthesizer, iter_synthesis

__all__ = ["MAX_EXAMPLES", "DriverSource", "SynthFrame", "SynthesisResult",
           "Synthesizer", "iter_synthesis", "load_examples", "open_driver", "synthesize"]
