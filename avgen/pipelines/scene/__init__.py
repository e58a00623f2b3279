"""Pipelines that convert speech between acoustic scenes shown in a picture.

* :mod:`~avgen.pipelines.scene.mvsd` -- visual acoustic matching (dry speech -> the room of a
  picture) and picture-conditioned dereverberation with a trained MVSD model
  (:mod:`avgen.models.mvsd`);
* :mod:`~avgen.pipelines.scene.match_file` -- one file in, one file out, as ``avgen match`` and
  ``avgen dereverb --image`` do.
"""
