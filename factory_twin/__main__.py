from factory_twin.cli import app

app(prog_name="factory-twin")
