from lib.aisre_st2 import AisreAction


class PollStatusPages(AisreAction):
    def run(self):
        return self.respond(self.runtime.poll_status_pages)
