"""Models of an acoustic scene seen in a picture or heard in a recording, shared by MVSD
(visual acoustic matching and dereverberation) and soundscape stylization.

* :mod:`~avgen.models.scene.embedding` -- the value every scene encoder returns
  (:class:`~avgen.models.scene.embedding.SceneEmbedding`) and the picture tensor convention.

Nothing is re-exported here: import from the modules.
"""
