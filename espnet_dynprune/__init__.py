"""espnet_dynprune: dynamic (input-dependent) pruning plugin for ESPnet.

Importing this package is deliberately cheap: it imports neither torch nor
espnet.  Installing the distribution also installs ``espnet_dynprune.pth``
into site-packages, which calls :func:`espnet_dynprune._import_hook.install`
at interpreter start-up.  That installs a tiny ``sys.meta_path`` finder which,
once stock ESPnet modules such as ``espnet2.tasks.s2t`` are imported, calls
our registration functions so ESPnet sees this plugin's classes.  Set
``ESPNET_DYNPRUNE_DISABLE_AUTOREGISTER=1`` to switch that off.
"""

__version__ = "0.1.0"
