from lib.aisre_st2 import AisreAction


class Health(AisreAction):
    def run(self, probe_sources=True):
        return self.respond(self.runtime.health, probe_sources)
