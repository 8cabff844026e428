from lib.aisre_st2 import AisreAction


class SetMode(AisreAction):
    def run(self, mode, actor="chatops"):
        return self.respond(self.runtime.set_mode, mode, actor)
