console.log('The bot entry point is not here yet: it lands with the Discord surface issue (#5).');
