package io.outrigger.listener;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@code -Doutrigger.transport}: the values the README names pick their transport; anything else is taken as unset. */
class TransportsTest {

    @Test
    void aValueThatNamesNoTransportIsTakenAsUnsetNotAsNio() {
        Transports auto = Transports.best("");
        assertEquals(auto, Transports.best("auto"));
        // A typo used to pick NIO, the slowest, without a word; on a machine with epoll or io_uring this tells them apart.
        for (String typo : new String[] {"iouring", "io-uring", "epol", "bogus"}) {
            assertEquals(auto, Transports.best(typo), typo);
        }
        assertEquals(Transports.NIO, Transports.best("nio"));
        assertEquals(Transports.NIO, Transports.best(" NIO "));
    }
}
