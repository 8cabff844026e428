from lib.aisre_st2 import AisreAction


class PauseAgent(AisreAction):
    def run(self, user="chatops"):
        return self.respond(self.chatops.pause, user)
