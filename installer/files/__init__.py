"""The files the installer changes, each as a pure transform over bytes.

One module per kind of file: ``axis2``, ``carbon``, ``datasources``, ``usermgt``, ``registry``
(XML, through the source-preserving ``xmlsplice`` editor), ``lbconf`` (the ELB's
loadbalancer.conf) and ``hosts`` (the cluster's marked block in a hosts file). ``settings`` holds
what each is asked to make true; ``base.FilePatch`` runs a transform for check, preview and
apply alike and writes the file atomically.
"""
