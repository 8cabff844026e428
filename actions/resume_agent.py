from lib.aisre_st2 import AisreAction


class ResumeAgent(AisreAction):
    def run(self, user="chatops"):
        return self.respond(self.chatops.resume, user)
