from lib.aisre_st2 import AisreAction


class KbIngest(AisreAction):
    def run(self, directory="", prune=False):
        return self.respond(self.runtime.kb_ingest, directory, prune)
