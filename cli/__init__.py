"""The command-line front end of the installer: argument parsing (:mod:`cli.parser`), the
headless commands rendered with Rich (:mod:`cli.commands`, :mod:`cli.render`), exit codes in one
place (:mod:`cli.exits`) and the ``wso2-cluster`` console command (:mod:`cli.console`), which
opens the wizard when no command is given. It uses the engine only through ``installer``'s
public names, as the wizard does."""
